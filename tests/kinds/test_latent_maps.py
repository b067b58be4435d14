"""The kinds' latent maps: observed categories are reproduced, and the two twins agree."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute.spec.variables import Variable

THRESHOLDS = np.array([0.0, 0.7, 1.9])

CASES = [
    Variable("b", 1, "binary", (0, 1)),
    Variable("n", 1, "nominal", ("a", "b", "c", "d")),
    Variable("o", 1, "ordinal", ("lo", "mid", "hi", "top")),
]


@pytest.mark.parametrize("var", CASES, ids=lambda v: v.kind)
def test_transform_lands_in_the_observed_category_and_twins_agree(var):
    rng = np.random.default_rng(4)
    n = 200
    codes = rng.integers(0, len(var.categories), n)
    raw = rng.normal(scale=3.0, size=(n, var.n_dims))
    thr = THRESHOLDS if var.kind == "ordinal" else None
    kind = var.behaviour
    z_np = kind.latent_map_numpy(var.categories, codes, raw, thr)
    np.testing.assert_array_equal(kind.decode(z_np, thr), codes)

    raw_t = pt.matrix("raw")
    z_t, log_jac_t = kind.latent_map(
        var.categories, codes, raw_t, pt.as_tensor(thr) if thr is not None else None
    )
    f = pytensor.function([raw_t], [z_t, log_jac_t], mode="FAST_COMPILE")
    z_pt, log_jac = f(raw)
    np.testing.assert_allclose(z_pt, z_np, rtol=1e-12)

    # the log-Jacobian is the log-determinant of d z / d raw, row by row (block-diagonal)
    eps = 1e-6
    total = 0.0
    for i in range(n):
        jac = np.empty((var.n_dims, var.n_dims))
        for a in range(var.n_dims):
            step = np.zeros_like(raw)
            step[i, a] = eps
            up = kind.latent_map_numpy(var.categories, codes, raw + step, thr)[i]
            down = kind.latent_map_numpy(var.categories, codes, raw - step, thr)[i]
            jac[:, a] = (up - down) / (2 * eps)
        total += np.linalg.slogdet(jac)[1]
    # central differences at eps = 1e-6 on values up to exp(9): roundoff ~1e-6 relative
    np.testing.assert_allclose(log_jac, total, rtol=1e-5)
