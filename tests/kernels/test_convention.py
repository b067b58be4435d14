"""The kernel's calling convention is declared once, and everything derived agrees with it."""

import inspect
from dataclasses import fields

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute._kernels import _frame
from jmimpute._kernels.convention import (
    COLLAPSED,
    FRAME_MODULE,
    Axis,
    Convention,
    render_frame_module,
    slot,
)
from jmimpute._kernels.kernel import collapsed_value_and_grad
from jmimpute._kernels.ops import (
    DIFFERENTIABLE,
    N_INPUTS,
    N_OUTPUTS,
    KernelData,
    collapsed_loglik_op,
)
from jmimpute._kernels.xla_ffi import ffi_available

from ..problems import CONFIGS, make_problem


def test_generated_frame_module_is_current():
    assert FRAME_MODULE.read_text() == render_frame_module(), (
        "_frame.py is stale: run `python -m jmimpute._kernels.convention`"
    )


def test_slots_are_the_kernels_parameters_in_order():
    params = list(inspect.signature(collapsed_value_and_grad.py_func).parameters)
    grads = [s.name for s in COLLAPSED.outputs[1:]]
    assert params == [s.name for s in COLLAPSED.inputs] + grads
    assert COLLAPSED.kernel == collapsed_value_and_grad.py_func.__name__
    assert COLLAPSED.module == collapsed_value_and_grad.py_func.__module__


def test_outputs_are_the_value_and_a_gradient_per_differentiable_input():
    value, *grads = COLLAPSED.outputs
    assert value.is_scalar
    wrt = [s for s in COLLAPSED.inputs if s.differentiable]
    assert [g.shape for g in grads] == [s.shape for s in wrt]
    assert [s.name for s in wrt] == ["lsig", "beta", "psi", "resid2", "zin"]
    assert DIFFERENTIABLE == {0: 1, 1: 2, 2: 3, 3: 4, 22: 5}
    assert (N_INPUTS, N_OUTPUTS) == (23, 6)


def test_every_extent_is_read_from_an_input_axis_that_carries_it():
    named = {a.extent for s in COLLAPSED.inputs for a in s.shape if a.extent is not None}
    assert set(COLLAPSED.extents) == named
    for extent, (i, axis) in COLLAPSED.extent_sources.items():
        assert COLLAPSED.inputs[i].shape[axis] == Axis(extent, 0)
        earlier = [a for s in COLLAPSED.inputs[:i] for a in s.shape]
        assert Axis(extent, 0) not in earlier + list(COLLAPSED.inputs[i].shape[:axis])


def test_frame_layout():
    layout = COLLAPSED.frame
    assert layout.extents == (
        "p", "q", "n_dim", "n_cl", "p2", "n_pat2", "n_pat", "r", "n_rows", "n_seg", "n_lat",
    )  # fmt: skip
    assert (layout.input_start, layout.output_start, layout.size) == (11, 34, 40)
    assert layout.inputs == tuple(s.name for s in COLLAPSED.inputs)
    assert layout.outputs == tuple(s.name for s in COLLAPSED.outputs)
    assert _frame.FRAME_SIZE == layout.size


def test_scalar_and_offset_axes():
    by_name = {s.name: s for s in COLLAPSED.inputs}
    assert [s.name for s in COLLAPSED.inputs if s.is_scalar] == ["n_obs"]
    assert by_name["seg_bounds"].shape == (Axis("n_seg", 1),)
    assert by_name["pat_segs"].shape == (Axis("n_pat", 1),)
    assert by_name["lat_map"].shape == (Axis(None, 3), Axis("n_lat"))
    assert [a.source for a in by_name["lat_map"].shape] == ["3", "n_lat"]
    assert Axis.parse("n_seg + 1").source == "n_seg + 1"


def test_kernel_data_fields_are_the_constant_inputs_in_order():
    assert tuple(f.name for f in fields(KernelData)) == COLLAPSED.constants


@pytest.mark.parametrize("config", list(CONFIGS))
def test_declared_shapes_match_the_problems(config):
    prob = make_problem(seed=len(config), empty_cluster=True, **CONFIGS[config])
    given = {
        "lsig": prob.lsig,
        "beta": prob.beta,
        "psi": prob.lpsi @ prob.lpsi.T,
        "resid2": prob.resid2,
        "zin": prob.zvals,
    }
    arrays = [
        np.asarray(given.get(s.name, getattr(prob.data, s.name, None))) for s in COLLAPSED.inputs
    ]
    extents = {e: arrays[i].shape[axis] for e, (i, axis) in COLLAPSED.extent_sources.items()}
    for s, a in zip(COLLAPSED.inputs, arrays, strict=True):
        want = tuple(extents[x.extent] + x.offset if x.extent else x.offset for x in s.shape)
        assert a.shape == want, s.name


def test_wrong_number_of_inputs_is_a_type_error():
    with pytest.raises(TypeError, match=r"takes 23 inputs \(lsig, beta, .*, zin\), got 22"):
        collapsed_loglik_op(*[pt.dvector() for _ in range(22)])


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ((slot("a", "n", grad="g"), slot("a", "n")), "repeat"),
        ((slot("a", "n", grad="a"),), "repeat"),
        ((slot("a", "n"), slot("b", "m+1")), "no input axis carries"),
        ((slot("a"), slot("b", "n", grad="g_b"), slot("c", grad="g_c")), "scalar"),
        ((slot("frame", "n"),), "taken by the generated code"),
        ((slot("a", "n"), slot("c_a", "n")), "taken by the generated code"),
    ],
)
def test_inconsistent_declarations_are_refused(inputs, message):
    with pytest.raises(ValueError, match=message):
        Convention(module="m", kernel="k", inputs=inputs)


MODES = ["FAST_COMPILE", "NUMBA", "JAX"]


@pytest.fixture(scope="module")
def op_outputs():
    """The Op's own outputs, evaluated through every backend on a problem with every feature."""
    prob = make_problem(seed=3, empty_cluster=True, **CONFIGS["p3-slopes-latent-level2"])
    params = [pt.dmatrix(), pt.dmatrix(), pt.dmatrix(), pt.dmatrix(), pt.dvector()]
    named = dict(zip(["lsig", "beta", "psi", "resid2", "zin"], params, strict=True))
    inputs = [named.get(s.name, getattr(prob.data, s.name, None)) for s in COLLAPSED.inputs]
    outs = collapsed_loglik_op(*inputs)
    values = (prob.lsig, prob.beta, prob.lpsi @ prob.lpsi.T, prob.resid2, prob.zvals)
    result = {}
    for mode in MODES:
        if mode == "JAX" and not ffi_available():
            continue
        result[mode] = pytensor.function(params, outs, mode=mode)(*values)
    return result


@pytest.mark.parametrize("mode", MODES[1:])
def test_every_backend_gives_the_performs_bits(op_outputs, mode):
    """The frame routes (Numba's entry call, JAX's XLA FFI handler) equal ``perform`` exactly."""
    if mode not in op_outputs:
        pytest.skip("XLA FFI target unavailable in this jaxlib")
    for got, want in zip(op_outputs[mode], op_outputs["FAST_COMPILE"], strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)
