"""Helpers shared across test modules."""

from __future__ import annotations

from jmimpute.design.standardised import Design, build_design
from jmimpute.spec.model import build_spec
from jmimpute.spec.validate import validate


def design_for(data, formula, **kwargs) -> Design:
    """The standardised design jmimpute builds for ``formula`` on ``data``."""
    spec = build_spec(formula, **kwargs)
    frame, level1, level2 = validate(data, spec)
    return build_design(frame, spec.level1, level1, spec.level2, level2)


def substantive_design(data, analysis: str, auxiliary: list[str] | None = None, **options):
    """The substantive model and its checked design for ``analysis`` on ``data``, made as
    ``jm.impute`` makes them (``options``: other arguments of ``jm.impute``)."""
    import inspect

    from jmimpute.models import model_for
    from jmimpute.pipeline import _substantive, impute

    params = inspect.signature(impute).parameters
    defaults = {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY}
    for k in ("analysis", "auxiliary", "cluster_means", "random_seed", "progressbar"):
        defaults.pop(k, None)
    formulas, settings = _substantive(data, None, analysis, auxiliary, "latent", defaults | options)
    spec = build_spec(formulas, **settings, progressbar=False)
    frame, level1, level2 = validate(data, spec)
    model = model_for(spec.method)
    design = model.design(frame, spec, level1, level2)
    model.check(design, spec)
    return model, design, spec


def substantive_built(data, analysis: str, auxiliary: list[str]):
    """The substantive model of ``analysis`` on ``data``, built as ``jm.impute`` builds it."""
    model, design, spec = substantive_design(data, analysis, auxiliary)
    return model.build(design, spec)


def small_data_with_binary(seed: int, rng):
    """8 clusters of 6 simulated rows (``simulate_two_level``, p = 2) plus a binary column
    ``b``: True in about 40% of rows, missing in about 20% (drawn from ``rng``)."""
    import pandas as pd

    from jmimpute.testing import simulate_two_level

    data = simulate_two_level(n_clusters=8, cluster_size=6, p=2, seed=seed).data.copy()
    n = len(data)
    data["b"] = pd.Series(rng.random(n) < 0.4, dtype=object).where(rng.random(n) > 0.2)
    return data


def plain(values) -> list:
    """Values as a CSV file keeps them: None, float (exact: CSV keeps the shortest repr) or str."""
    import numpy as np
    import pandas as pd

    return [
        None
        if pd.isna(v)
        else float(v)
        if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        else str(v)
        for v in values
    ]


def assert_intervals_cover(truth: dict) -> None:
    """Check recovery: ``truth`` maps a parameter name to ``(posterior draws, true value)``.

    For a correct sampler each 95% interval misses with probability 0.05. Allow the 99th
    percentile of Binomial(N, 0.05) misses, and every truth within 4 posterior sd
    (P(any beyond) < 0.5% for N ~ 50 independent normals).
    """
    import numpy as np
    from scipy import stats

    misses, z = [], {}
    for name, (draws, true) in truth.items():
        lo, hi = np.quantile(draws, [0.025, 0.975])
        if not lo <= true <= hi:
            misses.append(name)
        z[name] = (draws.mean() - true) / draws.std()
    allowed = int(stats.binom.ppf(0.99, len(truth), 0.05))
    worst = max(z, key=lambda k: abs(z[k]))
    assert len(misses) <= allowed, f"{len(misses)} > {allowed} intervals miss: {misses}"
    assert abs(z[worst]) < 4.0, f"{worst}: z = {z[worst]:.2f}"
