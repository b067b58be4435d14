"""The data-augmentation sampler's pieces (models/augmented/) and its posterior.

Distribution checks use Kolmogorov-Smirnov distances with the 0.1% critical value
``1.95 / sqrt(n)`` (seeded, so each check is one fixed draw of that test); the posterior
check compares with the collapsed model, each mean within 4 Monte Carlo s.e. of the
difference (ArviZ's ESS of each run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numba import njit
from scipy import stats

from jmimpute.design.suffstats import compute_stats
from jmimpute.models.augmented.build import build_augmented_model, latent_layout
from jmimpute.models.augmented.generator import seeded
from jmimpute.models.augmented.move import LatentMove, conditional_regressions
from jmimpute.models.augmented.sweep import add_latent_products, add_rows, draw_latents
from jmimpute.models.augmented.truncated import above, below
from jmimpute.spec.priors import Priors
from tests.helpers import design_for

KS_001 = 1.95


def _data(rows: int = 240, clusters: int = 20, seed: int = 1):
    rng = np.random.default_rng(seed)
    g = np.sort(rng.integers(0, clusters, rows))
    latent = rng.multivariate_normal(np.zeros(4), 0.4 * np.ones((4, 4)) + 0.6 * np.eye(4), rows)
    latent += rng.normal(0, 0.5, (clusters, 4))[g]
    nominal = np.array(["a", "b", "c"])[
        np.argmax(np.column_stack([np.zeros(rows), latent[:, 2:]]), 1)
    ]
    frame = pd.DataFrame(
        {
            "g": g,
            "y": latent[:, 0],
            "b": pd.Categorical(np.where(latent[:, 1] > 0, "yes", "no")),
            "c": pd.Categorical(nominal),
        }
    )
    for col, share in (("y", 0.2), ("b", 0.15), ("c", 0.15)):
        frame[col] = frame[col].mask(rng.random(rows) < share)
    return frame


def _assert_categories_kept(l1, y):
    """Every observed category decodes from its latent values in ``y``."""
    for var in l1.variables:
        if var.latent:
            codes = l1.codes[var.name]
            seen = codes >= 0
            decoded = var.behaviour.decode(y[:, l1.columns(var.name)], None)
            np.testing.assert_array_equal(decoded[seen], codes[seen])


def _design(frame):
    return design_for(frame, "y + b + c ~ 1 + (1|g)", categorical=["b", "c"])


@njit
def _many(mean, sd, bound, n, upper):
    state = seeded(12)
    out = np.empty(n)
    for i in range(n):
        out[i] = below(mean, sd, bound, state) if upper else above(mean, sd, bound, state)
    return out


@pytest.mark.parametrize("bound", [-2.0, 0.0, 0.6, 0.78, 0.9, 1.5, 8.0, 30.0, 60.0])  # every path
def test_truncated_draws_follow_the_truncated_normal(bound):
    x = _many(0.3, 1.2, bound, 20_000, False)
    assert x.min() >= bound
    ref = stats.truncnorm((bound - 0.3) / 1.2, np.inf, loc=0.3, scale=1.2)
    assert stats.kstest(x, ref.cdf).statistic < KS_001 / np.sqrt(x.size)
    y = _many(0.3, 1.2, -bound, 20_000, True)
    assert y.max() <= -bound
    ref = stats.truncnorm(-np.inf, (-bound - 0.3) / 1.2, loc=0.3, scale=1.2)
    assert stats.kstest(y, ref.cdf).statistic < KS_001 / np.sqrt(y.size)


def test_truncated_draws_repeat_with_the_seed():
    np.testing.assert_array_equal(_many(0.0, 1.0, 1.0, 50, False), _many(0.0, 1.0, 1.0, 50, False))


def test_layout_starts_every_latent_inside_its_category():
    design = _design(_data())
    lat = latent_layout(design)
    l1 = design.level1
    y = lat.y0
    _assert_categories_kept(l1, y)
    assert lat.cells[0].size == lat.table.shape[0]


def test_sweep_keeps_categories_and_draws_the_conditional():
    """Every draw decodes to the observed category; with the random effects and the other
    dimensions fixed, a binary latent's draws follow its truncated conditional normal."""
    design = _design(_data())
    lat = latent_layout(design)
    l1 = design.level1
    p = design.p
    rng = np.random.default_rng(0)
    a = rng.normal(size=(p, p))
    sigma = a @ a.T / p + np.eye(p)
    for var in l1.variables:  # unit scales on the latent dimensions, as identified
        if var.latent:
            for c in l1.columns(var.name):
                sigma[c, :] /= np.sqrt(sigma[c, c])
                sigma[:, c] /= np.sqrt(sigma[c, c])
    beta = rng.normal(size=(design.q, p))
    effects = rng.normal(size=(design.n_clusters, design.r, p)) * 0.3
    dims = np.unique(lat.table[:, 0])
    coef, sd = conditional_regressions(sigma, lat.stats.masks, dims)
    y = lat.y0.copy()
    scratch = tuple(np.zeros_like(a) for a in (lat.stats.syy, lat.stats.syx))
    scratch += (np.zeros_like(lat.stats.syz.transpose(1, 2, 3, 0)),)
    b_col = int(l1.columns("b")[0])
    row = int(lat.rows[0])
    draws = []
    for _ in range(4000):
        keep = y[row].copy()
        draw_latents(
            y, design.x, design.z, lat.stats.pattern, design.cluster, beta, effects, coef, sd,
            lat.rows, lat.row_cells, lat.table, int(rng.integers(2**31)), dims, *scratch,
        )  # fmt: skip
        draws.append(y[row, b_col])
        y[row] = keep  # the row's other latents fixed: one conditional, many draws
    _assert_categories_kept(l1, y)
    k = lat.stats.pattern[row]
    mu = design.x[row] @ beta + design.z[row] @ effects[design.cluster[row]]
    mean = mu[b_col] + coef[k, b_col] @ (keep - mu)
    code = l1.codes["b"][row]
    a_, b_ = ((0.0 - mean) / sd[k, b_col], np.inf) if code == 1 else (-np.inf, -mean / sd[k, b_col])
    ref = stats.truncnorm(a_, b_, loc=mean, scale=sd[k, b_col])
    assert stats.kstest(np.array(draws), ref.cdf).statistic < KS_001 / np.sqrt(len(draws))


def _from_source(monkeypatch) -> None:
    """Make the sweep's callees, down to the generator, their Python source."""
    from jmimpute.models.augmented import generator, sweep, truncated

    for module, names in (
        (sweep, ("above", "below", "seeded")),
        (truncated, ("above", "normal", "uniform")),
        (generator, ("_rotl", "next_u64", "uniform", "normal", "tail")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, getattr(module, name).py_func)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # uint64 wraps
def test_compiled_sweep_is_its_source(monkeypatch):
    """The sweep's machine code does what its source says today.

    Numba caches ``draw_latents`` on disk under ``sweep.py``'s time stamp alone, so an
    edit of what it calls in other files (``truncated.py``, ``generator.py``) would leave
    stale code in a developer's cache. This runs the sweep and those callees in Python,
    from source (``_add_column`` and ``_mirror``, in ``sweep.py`` itself, stay compiled),
    and compares every latent and statistic with the compiled sweep's, bit for bit. About
    1% of the ziggurat's proposals reach a wedge, about a dozen here, and the tail rarely,
    so a stale difference only there could pass. On failure: delete
    ``jmimpute/models/augmented/__pycache__``.
    """
    design = _design(_data())
    lat = latent_layout(design)
    p = design.p
    rng = np.random.default_rng(3)
    sigma = np.eye(p) + 0.3
    beta = rng.normal(size=(design.q, p))
    effects = rng.normal(size=(design.n_clusters, design.r, p)) * 0.3
    dims = np.unique(lat.table[:, 0])
    coef, sd = conditional_regressions(sigma, lat.stats.masks, dims)
    results = []
    for source in (False, True):
        if source:
            _from_source(monkeypatch)
        sweep = draw_latents.py_func if source else draw_latents
        y = lat.y0.copy()
        scratch = tuple(np.zeros_like(a) for a in (lat.stats.syy, lat.stats.syx))
        scratch += (np.zeros_like(lat.stats.syz.transpose(1, 2, 3, 0)),)
        sweep(
            y, design.x, design.z, lat.stats.pattern, design.cluster, beta, effects, coef, sd,
            lat.rows, lat.row_cells, lat.table, 12345, dims, *scratch,
        )  # fmt: skip
        results.append((y, *scratch))
    for compiled, source in zip(*results, strict=True):
        np.testing.assert_array_equal(compiled, source)


def test_conditional_regressions_are_the_gaussian_conditionals():
    """Per pattern and latent dimension ``d`` with observed set ``O``: from the precision
    ``Q = Sigma_OO^-1``, the regression on ``O \\ d`` is ``-Q_d. / Q_dd`` and the
    conditional variance ``1 / Q_dd`` (another route than the solve in the move)."""
    rng = np.random.default_rng(4)
    p = 5
    a = rng.normal(size=(p, p))
    sigma = a @ a.T / p + np.eye(p)
    masks = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]], bool)
    dims = np.array([1, 2, 4])
    coef, sd = conditional_regressions(sigma, masks, dims)
    for k, mask in enumerate(masks):
        seen = np.flatnonzero(mask)
        q = np.linalg.inv(sigma[np.ix_(seen, seen)])
        for d in dims:
            if not mask[d]:
                np.testing.assert_array_equal(coef[k, d], 0.0)
                continue
            i = int(np.flatnonzero(seen == d)[0])
            expected = np.zeros(p)
            expected[seen] = -q[i] / q[i, i]
            expected[d] = 0.0
            np.testing.assert_allclose(coef[k, d], expected, atol=1e-12)
            assert sd[k, d] == pytest.approx(np.sqrt(1.0 / q[i, i]), rel=1e-12)


def test_statistics_are_those_of_the_completed_data():
    design = _design(_data())
    lat = latent_layout(design)
    y = lat.y0 + np.where(lat.y0 != 0, 0.1, 0.0)  # any values in place of the latents
    stats_, _ = compute_stats(
        y, design.x, design.z, design.cluster, design.n_clusters, observed=design.level1.observed
    )
    syy = np.zeros_like(stats_.syy)
    syx = np.zeros_like(stats_.syx)
    syz_t = np.zeros_like(stats_.syz.transpose(1, 2, 3, 0))
    everything = np.flatnonzero(stats_.pattern >= 0)
    add_rows(y, design.x, design.z, lat.stats.pattern, design.cluster, everything, syy, syx, syz_t)
    np.testing.assert_allclose(syy, stats_.syy, atol=1e-10)
    np.testing.assert_allclose(syx, stats_.syx, atol=1e-10)
    np.testing.assert_allclose(syz_t, stats_.syz.transpose(1, 2, 3, 0), atol=1e-10)
    # the sweep's split: rows without latents, the others' constant products, then theirs
    split = tuple(np.zeros_like(a) for a in (syy, syx, syz_t))
    args = (y, design.x, design.z, lat.stats.pattern, design.cluster)
    dims = np.unique(lat.table[:, 0])
    add_rows(*args, lat.base_rows, *split)
    constant = y.copy()
    constant[:, dims] = 0.0
    add_rows(constant, *args[1:], lat.rows, *split)
    add_latent_products(*args, lat.rows, lat.row_cells, lat.table, dims, *split)
    for got, full in zip(split, (syy, syx, syz_t), strict=True):
        np.testing.assert_allclose(got, full, atol=1e-10)


def test_move_rewrites_the_chains_statistics():
    from jmimpute.sampling.blocked import CompiledTarget
    from jmimpute.sampling.numba_callbacks import compile_numba

    design = _design(_data())
    built, lat = build_augmented_model(design, Priors())
    compiled, _ = compile_numba(built.model, built.keep)
    target = CompiledTarget(compiled).for_chain()
    other = CompiledTarget(compiled).for_chain()
    move = LatentMove(design, lat, target)
    q = compiled.initial_point_func(0)
    before = target(q)[0]
    move.draw(q, np.random.default_rng(1))
    assert target(q)[0] != before  # the density reads the new latents
    assert other(q)[0] == before  # another chain's data are its own
    expected, _ = compute_stats(
        move.y, design.x, design.z, design.cluster, design.n_clusters,
        observed=design.level1.observed,
    )  # fmt: skip
    np.testing.assert_allclose(target.shared("kernel_syy0"), expected.syy, atol=1e-9)
    np.testing.assert_allclose(target.shared("kernel_syx0"), expected.syx, atol=1e-9)
    np.testing.assert_allclose(
        target.shared("kernel_syz0_t"), expected.syz.transpose(1, 2, 3, 0), atol=1e-9
    )
    state = move.state()
    assert state.shape == (lat.cells[0].size,)


def test_level2_categorical_targets_are_refused():
    frame = _data()
    w = pd.Series(np.where(frame["g"] % 2 == 0, "x", "z"), dtype="category")
    frame = frame.assign(w=w)
    design = design_for(frame, ["y + b ~ 1 + (1|g)", "w ~ 1"], categorical=["b", "w"])
    with pytest.raises(ValueError, match="level-2 categorical targets"):
        build_augmented_model(design, Priors())


@pytest.mark.filterwarnings("ignore::jmimpute.diagnostics.ConvergenceWarning")
def test_impute_end_to_end_keeps_the_invariants():
    """jm.impute(method='augmented') samples and completes: observed cells unchanged,
    every imputed category a level of its column, nothing left missing (a short run:
    convergence is not the point here)."""
    import jmimpute as jm

    frame = _data()
    before = frame.copy(deep=True)
    imp = jm.impute(
        frame, "y + b + c ~ 1 + (1|g)", categorical=["b", "c"], method="augmented",
        m=3, chains=2, tune=200, draws=200, random_seed=4, progressbar=False,
    )  # fmt: skip

    pd.testing.assert_frame_equal(frame, before)  # the user's frame is not mutated
    sets = imp.complete("all")
    assert len(sets) == 3
    for done in sets:
        for col in ("y", "b", "c"):
            assert done[col].notna().all()
            seen = before[col].notna()
            pd.testing.assert_series_equal(done.loc[seen, col], before.loc[seen, col])
        for col in ("b", "c"):
            assert set(done[col].unique()) <= set(before[col].cat.categories)
    cells = imp.tree["imputations"].dataset
    assert "latent_values" in cells  # kept for re-drawing
    assert cells.sizes["imputation"] == 3
    assert imp.convergence().shape[0] > 0
    # a sensitivity re-draw at delta = 0 reads the kept latents and the same streams
    from jmimpute.sensitivity_analysis import shifted

    again = shifted(imp, "y", 0.0)
    np.testing.assert_array_equal(again.imputed.to_numpy(), imp.imputed.to_numpy())


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jmimpute.diagnostics.ConvergenceWarning")
def test_posterior_matches_the_collapsed_model():
    """The same posterior as method='collapsed' on 600 rows in 30 clusters (a continuous,
    a binary and a 3-category nominal target): every parameter's posterior mean within 4
    Monte Carlo s.e. of the difference (each run's own ESS), its sd within 4 s.e.
    (about sd / sqrt(2 ESS) each); over about 30 distinct parameters a false alarm is
    rarer than 1 in 100."""
    from arviz_stats.base import array_stats

    import jmimpute as jm

    frame = _data(rows=600, clusters=30, seed=2)
    runs = {
        method: jm.impute(
            frame, "y + b + c ~ 1 + (1|g)", categorical=["b", "c"], method=method,
            m=2, draws=2000, random_seed=5, progressbar=False,
        ).tree["standardised_posterior"].dataset
        for method in ("augmented", "collapsed")
    }  # fmt: skip
    a_post, c_post = runs["augmented"], runs["collapsed"]
    for name in ("beta", "sigma", "psi"):
        a = a_post[name].to_numpy().reshape(*a_post[name].shape[:2], -1)
        c = c_post[name].to_numpy().reshape(*c_post[name].shape[:2], -1)
        for i in range(a.shape[2]):
            if c[..., i].std() < 1e-9:  # fixed by identification
                continue
            ess_a = float(array_stats.ess(a[..., i], chain_axis=0, draw_axis=1))
            ess_c = float(array_stats.ess(c[..., i], chain_axis=0, draw_axis=1))
            sd_a, sd_c = a[..., i].std(), c[..., i].std()
            se = np.hypot(sd_a / np.sqrt(ess_a), sd_c / np.sqrt(ess_c))
            assert abs(a[..., i].mean() - c[..., i].mean()) < 4 * se, (name, i)
            se_sd = np.hypot(sd_a / np.sqrt(2 * ess_a), sd_c / np.sqrt(2 * ess_c))
            assert abs(sd_a - sd_c) < 4 * se_sd, (name, i, sd_a, sd_c)


def test_collapsed_model_warns_where_its_trace_would_be_large(monkeypatch, caplog):
    """The estimate is the store's layout (--store at 20,000 rows: 50,875 latents, 4 chains
    x (1000 + 1000): 6.53 GB in the store + 3.27 GB copied = 16 L (tune + 2 draws) x 4)."""
    import logging

    from jmimpute.models.collapsed import model as collapsed
    from jmimpute.spec.model import build_spec

    frame = _data()
    design = _design(frame)
    spec = build_spec("y + b + c ~ 1 + (1|g)", categorical=["b", "c"], tune=1000, draws=1000)
    latent = int(np.count_nonzero(design.level1.latent))
    assert collapsed.stored_gigabytes(design, spec) == pytest.approx(16 * latent * 12000 / 1e9)
    monkeypatch.setattr(collapsed, "STORE_WARNING_GB", 0.0)
    with caplog.at_level(logging.WARNING, logger="jmimpute"):
        collapsed.CollapsedModel().check(design, spec)
    assert "method='augmented'" in caplog.text


def test_effects_draw_is_the_numpy_conditional():
    """draw_effects gives the draw of random_effect_conditional and its precision factor
    for the same standard normals (to rounding)."""
    from jmimpute._kernels.ops import KernelData
    from jmimpute.models.augmented.effects import draw_effects
    from jmimpute.models.joint.conditional import (
        _pattern_precisions,
        cluster_priors,
        random_effect_conditional,
    )

    design = _design(_data())
    lat = latent_layout(design)
    stats = lat.stats
    no_cells = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    data = KernelData.build(stats, lat.no_rows, no_cells)
    rng = np.random.default_rng(8)
    p, d = design.p, design.d
    a = rng.normal(size=(p, p))
    sigma = a @ a.T / p + np.eye(p)
    psi = np.eye(d) * 0.5 + 0.1
    beta = rng.normal(size=(design.q, p))
    lam, h = cluster_priors(design, psi, None, *design.level2_patterns())
    normals = rng.standard_normal((design.n_clusters, d))
    out = np.empty((design.n_clusters, design.r, p))
    prec = _pattern_precisions(sigma, stats.masks)
    draw_effects(lam, h, data.zz_t, data.syz0_t, data.sxz_t, prec, beta, normals, out)
    mean, chol = random_effect_conditional(stats, beta, sigma, lam, h)
    expected = mean + np.linalg.solve(np.swapaxes(chol, -1, -2), normals[..., None])[..., 0]
    np.testing.assert_allclose(out.reshape(design.n_clusters, d), expected, rtol=1e-10, atol=1e-12)
