"""Sensitivity analyses: delta adjustment (pattern-mixture MNAR), tipping points, model comparison.

Delta adjustment as in mice (van Buuren, *Flexible Imputation of Missing Data*, sec. 3.8),
but inside the joint model's draws: the m imputations are re-drawn from the same retained
posterior draws with the same random stream, and the missing cells of a variable are
shifted by ``delta`` within each unit's joint conditional draw; the other missing cells of
that unit move by their conditional regression on the shifted one, and variables derived
from the completed data (:meth:`Imputation.with_columns`, e.g. cluster means) are computed
from the shifted values. No NUTS sampling is repeated, and ``delta = 0`` gives the original
imputations exactly.

* continuous targets: ``delta`` on the variable's scale;
* binary and ordinal targets: a shift of the latent normal (scale 1, probit-like), so the
  imputed values stay valid categories; nominal targets: all K - 1 latent dimensions
  shift together (a positive delta moves imputations away from the baseline category);
* level-2 targets: each cluster's value is shifted, so it stays constant within clusters.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.analysis.analyze import analyze
from jmimpute.analysis.fits import AnalysisFits
from jmimpute.models import model_for
from jmimpute.results.imputation import Imputation
from jmimpute.results.tree import imputations_dataset, retained_of
from jmimpute.spec.model import ImputationSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from jmimpute.pooling import PooledEstimates

_log = logging.getLogger("jmimpute")

DeltaValue = float | Mapping[Any, float]
COLUMNS = [
    "delta",
    "variable",
    "term",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "df",
    "fmi",
]


# -- delta-adjusted imputations ----------------------------------------------------------
def _group_values(imp: Imputation, by: str | None, value: DeltaValue, level: int) -> np.ndarray:
    """The delta of every row (level 1) or cluster (level 2), in data units."""
    data = imp.data
    n_units = data.shape[0] if level == 1 else data[imp.spec.cluster].nunique()
    if not isinstance(value, Mapping):
        return np.full(n_units, float(value))
    if by is None:
        raise ValueError(
            f"a delta given per group ({dict(value)!r}) needs `by`, the column whose levels "
            "the keys name, e.g. by='den'"
        )
    if by not in data.columns:
        raise ValueError(f"`by` must be a column of the data; got {by!r}")
    column = data[by]
    if level == 2:
        per_cluster = column.groupby(data[imp.spec.cluster], sort=True)
        if (per_cluster.nunique(dropna=False) > 1).any():
            raise ValueError(
                f"`by`={by!r} varies within clusters, so it cannot group a level-2 variable's "
                "delta; use a cluster-level column"
            )
        column = per_cluster.first()
    if column.isna().any():
        raise ValueError(f"`by`={by!r} has missing values; it must be fully observed")
    levels = set(column.unique().tolist())
    unknown = [k for k in value if k not in levels]
    if unknown:
        raise ValueError(f"delta keys {unknown} are not levels of {by!r}: {sorted(levels)}")
    return column.map(lambda v: float(value.get(v, 0.0))).to_numpy(dtype=float)


def delta_shift(imp: Imputation, variable: str, value: DeltaValue, by: str | None = None) -> Any:
    """The model's shift of ``delta`` for one variable (see :meth:`ImputationModel.shift`)."""
    _check_imputation(imp)
    targets = {v.name: v for v in imp.variables}
    if variable not in targets:
        raise ValueError(
            f"delta names {variable!r}, which is not a target of the imputation model; "
            f"targets: {list(targets)}"
        )
    per_unit = _group_values(imp, by, value, targets[variable].level)
    return model_for(imp.spec.method).shift(imp._design(), variable, per_unit)


def _check_imputation(imp: object) -> None:
    if not isinstance(imp, Imputation):
        raise TypeError(f"expected an Imputation from jm.impute; got {type(imp).__name__}")


def shifted(
    imp: Imputation, variable: str, delta: DeltaValue, *, by: str | None = None
) -> Imputation:
    """The imputations re-drawn with the missing cells of ``variable`` shifted by ``delta``.

    Parameters
    ----------
    imp : Imputation
        From :func:`jmimpute.impute` or :func:`jmimpute.load_imputation`.
    variable : str
        A target of the imputation model.
    delta : float or mapping
        The shift on the variable's scale (latent scale for categorical targets), or a
        mapping from levels of ``by`` to shifts (unlisted levels are not shifted).
    by : str, optional
        A fully observed column (constant within clusters for a level-2 variable).

    Returns
    -------
    Imputation
        Same data, posterior and derived variables; new imputed cells.
    """
    shift = delta_shift(imp, variable, delta, by)
    design = imp._design()
    draws = model_for(imp.spec.method).redraw(design, imp.tree, shift)
    cells = imp.tree["imputations"].dataset
    new = imputations_dataset(draws, design, retained_of(cells), imp._data.index)
    label = delta if not isinstance(delta, Mapping) else dict(delta)
    new.attrs["delta"] = f"{variable}: {label!r}" + (f" by {by}" if by else "")
    tree = imp.tree.copy()
    tree["imputations"] = xr.DataTree(new)
    return imp._copy(tree=tree)


# -- pooled analyses -----------------------------------------------------------------------
def _pooled(
    imp: Imputation, analysis: str, backend: str, ci: float, fit_kwargs: dict[str, Any]
) -> PooledEstimates:
    fits = analyze(imp, analysis, backend=backend, progressbar=False, **fit_kwargs)
    if isinstance(fits, AnalysisFits):
        return fits.pool(ci=ci)
    return fits.rubin()


def _rows(pooled: PooledEstimates, delta: Any, variable: str) -> pd.DataFrame:
    table = pooled.table.rename_axis("term").reset_index()
    table.insert(0, "variable", variable)
    table.insert(0, "delta", [delta] * len(table))
    return table[COLUMNS]


@dataclass(frozen=True, eq=False)
class TippingPoint:
    """The delta at which a pooled coefficient's interval starts (or stops) including a value.

    Attributes
    ----------
    term, variable : str
    value : float
    delta : float
        Midpoint of the final bracket.
    lower, upper : float
        The final bracket: the interval's verdict differs at its two ends.
    precision : float
        Half the bracket width (the search's precision, given these m imputations; the
        tipping point also carries Monte Carlo error from the finite m).
    includes_beyond : bool
        Whether the interval includes ``value`` on the far side of the tipping point
        (seen from delta = 0).
    evaluations : pandas.DataFrame
        Every delta evaluated during the search, with the pooled results of ``term``.
    """

    term: str
    variable: str
    value: float
    delta: float
    lower: float
    upper: float
    precision: float
    includes_beyond: bool
    evaluations: pd.DataFrame

    def __str__(self) -> str:
        verb = "includes" if self.includes_beyond else "excludes"
        return (
            f"Tipping point of {self.term!r} (delta on {self.variable!r}): "
            f"{self.delta:.4g} ± {self.precision:.2g} (bracket [{self.lower:.4g}, "
            f"{self.upper:.4g}]); beyond it the interval {verb} {self.value:g}"
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(str(self))}</p>" + self.evaluations.to_html(
            float_format="{:.4g}".format, index=False
        )


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """Pooled estimates of one analysis under a sweep of delta adjustments.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy: ``delta``, ``variable``, ``term``, ``estimate``, ``std_error``, ``ci_lower``,
        ``ci_upper``, ``df``, ``fmi``; one row per delta, variable and fixed effect.
    analysis : str
    by : str or None
    ci : float
    imputation : Imputation
        The unshifted imputation the sweep re-draws.
    """

    table: pd.DataFrame
    analysis: str
    by: str | None
    ci: float
    imputation: Imputation = field(repr=False)
    _evaluate: Callable[[str, float], pd.DataFrame] = field(repr=False)

    def _variable(self, variable: str | None) -> str:
        names = list(dict.fromkeys(self.table["variable"]))
        if variable is None:
            if len(names) > 1:
                raise ValueError(f"several variables were shifted; pass `variable`, one of {names}")
            return names[0]
        if variable not in names:
            raise ValueError(f"`variable` must be one of {names}; got {variable!r}")
        return variable

    def _term_rows(self, term: str, variable: str | None) -> pd.DataFrame:
        rows = self.table[self.table["variable"] == self._variable(variable)]
        terms = list(dict.fromkeys(rows["term"]))
        if term not in terms:
            raise ValueError(f"`term` must be a fixed effect of the analysis, one of {terms}")
        return rows[rows["term"] == term]

    def plot(self, term: str, *, variable: str | None = None, value: float | None = 0.0) -> Figure:
        """Pooled estimate and interval of ``term`` against delta.

        Parameters
        ----------
        term : str
            A fixed effect of the analysis, e.g. ``"iqv"``.
        variable : str, optional
            The shifted variable (needed when several were swept).
        value : float or None, default 0.0
            Draw a reference line here (None for none).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        rows = self._term_rows(term, variable)
        numeric = all(isinstance(d, int | float | np.number) for d in rows["delta"])
        x = rows["delta"].to_numpy(float) if numeric else np.arange(len(rows))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.fill_between(
            x, rows["ci_lower"], rows["ci_upper"], alpha=0.25, label=f"{self.ci:.0%} CI"
        )
        ax.plot(x, rows["estimate"], marker="o", label="pooled estimate")
        if value is not None:
            ax.axhline(value, color="grey", linestyle="--", linewidth=1)
        if not numeric:
            ax.set_xticks(x, [str(d) for d in rows["delta"]], rotation=30, ha="right")
        ax.set_xlabel(
            f"delta on {rows['variable'].iloc[0]}" + (f" by {self.by}" if self.by else "")
        )
        ax.set_ylabel(term)
        ax.set_title(f"Delta adjustment: {self.analysis}")
        ax.legend()
        fig.tight_layout()
        return fig

    def tipping_point(
        self,
        term: str,
        *,
        value: float = 0.0,
        variable: str | None = None,
        tol: float | None = None,
        max_iter: int = 30,
    ) -> TippingPoint:
        """Find the delta where the interval of ``term`` first changes whether it holds ``value``.

        Starting from the swept delta nearest 0, the nearest pair of swept deltas between
        which the verdict changes brackets the tipping point; bisection re-draws and
        re-pools at the midpoint until the bracket is narrower than ``2 tol``. The same
        random stream is used at every delta, so the verdict changes only once in a
        bracket unless the estimate is far from monotone in delta.

        Parameters
        ----------
        term : str
        value : float, default 0.0
        variable : str, optional
        tol : float, optional
            Wanted precision (half bracket width); default 1/100 of the swept range.
        max_iter : int, default 30

        Returns
        -------
        TippingPoint

        Raises
        ------
        ValueError
            If the sweep has no change of verdict (widen the deltas), or its deltas are
            per-group mappings (give scalar deltas).
        """
        rows = self._term_rows(term, variable)
        var = str(rows["variable"].iloc[0])
        if not all(isinstance(d, int | float | np.number) for d in rows["delta"]):
            raise ValueError("a tipping-point search needs scalar deltas, not per-group mappings")
        rows = rows.assign(delta=rows["delta"].astype(float)).sort_values("delta")
        deltas = rows["delta"].to_numpy()
        inside = ((rows["ci_lower"] <= value) & (value <= rows["ci_upper"])).to_numpy()
        start = int(np.argmin(np.abs(deltas)))
        candidates = []
        for step in (1, -1):
            k = start
            while 0 <= k + step < deltas.size and inside[k + step] == inside[start]:
                k += step
            if 0 <= k + step < deltas.size:
                candidates.append((deltas[k], deltas[k + step]))
        if not candidates:
            raise ValueError(
                f"the {self.ci:.0%} interval of {term!r} "
                f"{'includes' if inside[start] else 'excludes'} {value:g} at every swept delta "
                f"({deltas.min():g} .. {deltas.max():g}); widen the sweep"
            )
        near, far = min(candidates, key=lambda c: abs(c[1] - deltas[start]))
        tol = (deltas.max() - deltas.min()) / 100 if tol is None else float(tol)
        evaluated = [rows]
        for _ in range(max_iter):
            if abs(far - near) / 2 <= tol:
                break
            mid = (near + far) / 2
            new = self._evaluate(var, mid)
            new = new[new["term"] == term]
            evaluated.append(new)
            hit = bool((new["ci_lower"] <= value).iloc[0] and (value <= new["ci_upper"]).iloc[0])
            near, far = (mid, far) if hit == inside[start] else (near, mid)
        evaluations = pd.concat(evaluated, ignore_index=True).sort_values("delta")
        return TippingPoint(
            term=term,
            variable=var,
            value=value,
            delta=(near + far) / 2,
            lower=min(near, far),
            upper=max(near, far),
            precision=abs(far - near) / 2,
            includes_beyond=not inside[start],
            evaluations=evaluations.reset_index(drop=True),
        )

    def __str__(self) -> str:
        head = f"Delta-adjusted pooled estimates ({self.ci:.0%} CI): {self.analysis}"
        if self.by:
            head += f", delta by {self.by}"
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return (
                head + "\n" + self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
            )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = html.escape(self.analysis)
        return f"<p><b>Delta-adjusted pooled estimates</b>: <code>{head}</code></p>" + (
            self.table.to_html(float_format="{:.4g}".format, index=False)
        )


def _as_sweep(delta: object) -> dict[str, list[DeltaValue]]:
    if not isinstance(delta, Mapping) or not delta:
        raise TypeError(
            "`delta` must map target names to the deltas to try, e.g. "
            f"{{'lpo': [-5, -2.5, 0, 2.5, 5]}}; got {delta!r}"
        )
    out: dict[str, list[DeltaValue]] = {}
    for name, values in delta.items():
        if isinstance(values, int | float | np.number | Mapping):
            values = [values]
        if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
            raise TypeError(f"the deltas of {name!r} must be numbers or mappings; got {values!r}")
        out[str(name)] = [v if isinstance(v, Mapping) else float(v) for v in values]
    return out


def _source(
    source: Imputation | ImputationSpec | str | PathLike[str],
    data: pd.DataFrame | None,
    random_seed: int | None,
) -> Imputation:
    """The imputation to shift: given, or run now from a spec or a model file."""
    if isinstance(source, Imputation):
        if data is not None or random_seed is not None:
            raise ValueError(
                "`data` and `random_seed` are for a spec or model file; an Imputation "
                "already has its data and seed"
            )
        return source
    if isinstance(source, ImputationSpec):
        if data is None:
            raise ValueError(
                "an ImputationSpec needs `data`, the incomplete DataFrame to impute: "
                "jm.sensitivity(spec, delta, analysis, data=df)"
            )
        from jmimpute.pipeline import impute

        _log.info("imputing with the given spec before the delta sweep")
        return impute(data, source, random_seed=random_seed)
    if isinstance(source, str | PathLike) and Path(source).suffix == ".toml":
        from jmimpute.inputs import load_model_data
        from jmimpute.pipeline import impute
        from jmimpute.spec.modelfile import read_model_file

        if data is not None:
            raise ValueError(f"the model file {str(source)!r} names its own data; leave `data` out")
        model = read_model_file(Path(source))
        args = model.impute_arguments()
        if random_seed is not None:
            args["random_seed"] = random_seed
        _log.info("imputing as %s says before the delta sweep", source)
        return impute(load_model_data(model), **args)
    raise TypeError(
        "the first argument of jm.sensitivity must be an Imputation (jm.impute, "
        "jm.load_imputation), an ImputationSpec (jm.specify) with `data`, or the path of a "
        f"model file (.toml); got {source!r}"
    )


def sensitivity(
    source: Imputation | ImputationSpec | str | PathLike[str],
    delta: Mapping[str, Sequence[DeltaValue] | DeltaValue],
    analysis: str,
    *,
    data: pd.DataFrame | None = None,
    random_seed: int | None = None,
    by: str | None = None,
    backend: str = "statsmodels",
    ci: float = 0.95,
    **fit_kwargs: Any,
) -> SensitivityResult:
    """Delta-adjustment sensitivity analysis: pooled estimates under a sweep of MNAR shifts.

    Each variable is swept on its own (the others unshifted). For each delta the m
    imputations are re-drawn from the stored posterior draws with the same random streams
    (no NUTS), the missing cells of the variable shifted inside the joint draw (see the
    module docstring), the analysis fitted to each completed set and pooled.

    Parameters
    ----------
    source : Imputation, ImputationSpec or path
        A result of :func:`jmimpute.impute` or :func:`jmimpute.load_imputation`; or a
        model to impute first: an :class:`ImputationSpec` from :func:`jmimpute.specify`
        (with ``data``), or a model file (``.toml``, as ``jmimpute run`` reads). Derived
        variables (:meth:`Imputation.with_columns`) are recomputed from the shifted values.
    delta : mapping
        Target name to the deltas to try: numbers on the variable's scale (latent scale
        for categorical targets), or mappings from levels of ``by`` to numbers.
    analysis : str
        Analysis formula, as in :func:`jmimpute.analyze`.
    data : pandas.DataFrame, optional
        The incomplete data, when ``source`` is a spec.
    random_seed : int, optional
        Seed of the imputation, when ``source`` is a spec or model file.
    by : str, optional
        A fully observed column naming the groups of per-group deltas.
    backend : {"statsmodels", "bambi"}, default "statsmodels"
    ci : float, default 0.95
        Coverage of the pooled intervals.
    **fit_kwargs
        Passed to :func:`jmimpute.analyze` (e.g. ``reml=False``).

    Returns
    -------
    SensitivityResult
        Its ``imputation`` is the unshifted result (check its convergence before trusting
        the sweep).

    Examples
    --------
    >>> sens = jm.sensitivity(imp, {"lpo": [-5, -2.5, 0, 2.5, 5]},
    ...                       "lpo ~ iqv + (1|sch)")  # doctest: +SKIP
    >>> sens.plot("iqv")  # doctest: +SKIP
    >>> sens.tipping_point("(Intercept)", value=41.0)  # doctest: +SKIP
    >>> spec = jm.specify("lpo + iqv ~ 1 + (1|sch)", m=20)  # doctest: +SKIP
    >>> jm.sensitivity(spec, {"lpo": [-2, 0, 2]}, "lpo ~ iqv + (1|sch)",
    ...                data=data, random_seed=1)  # doctest: +SKIP
    """
    sweep = _as_sweep(delta)
    if isinstance(source, ImputationSpec):
        # check what can be checked before an imputation that may take minutes
        targets = source.targets + source.level2_targets
        unknown = [name for name in sweep if name not in targets]
        if unknown:
            raise ValueError(
                f"delta names {unknown}, which are not targets of the imputation model; "
                f"targets: {list(targets)}"
            )
    imp = _source(source, data, random_seed)
    note = model_for(imp.spec.method).redraw_note
    if note:
        _log.info(note)

    def evaluate(variable: str, value: DeltaValue) -> pd.DataFrame:
        pooled = _pooled(shifted(imp, variable, value, by=by), analysis, backend, ci, fit_kwargs)
        label: Any = value if not isinstance(value, Mapping) else str(dict(value))
        return _rows(pooled, label, variable)

    for variable, values in sweep.items():  # check names and groups before any fitting
        for v in values:
            delta_shift(imp, variable, v, by)
    frames = [evaluate(var, v) for var, values in sweep.items() for v in values]
    table = pd.concat(frames, ignore_index=True)
    return SensitivityResult(
        table=table, analysis=analysis, by=by, ci=ci, imputation=imp, _evaluate=evaluate
    )


def compare_models(
    imputations: Mapping[str, Imputation],
    analysis: str,
    *,
    backend: str = "statsmodels",
    ci: float = 0.95,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """The same analysis pooled over imputations from different models or priors, side by side.

    Parameters
    ----------
    imputations : mapping of str to Imputation
        A name for each imputation run, e.g. ``{"default": imp, "wide prior": imp2}``.
    analysis : str
        Analysis formula, as in :func:`jmimpute.analyze`.
    backend : {"statsmodels", "bambi"}, default "statsmodels"
    ci : float, default 0.95
    **fit_kwargs
        Passed to :func:`jmimpute.analyze`.

    Returns
    -------
    pandas.DataFrame
        One row per fixed effect; columns ``(name, statistic)`` for ``estimate``,
        ``std_error``, ``ci_lower``, ``ci_upper`` and ``fmi``.

    Examples
    --------
    >>> jm.compare_models({"random intercept": imp1, "random slope": imp2},
    ...                   "lpo ~ iqv + (1|sch)")  # doctest: +SKIP
    """
    if not isinstance(imputations, Mapping) or not imputations:
        raise TypeError(
            "`imputations` must map names to Imputation results, e.g. {'default': imp}; got "
            f"{imputations!r}"
        )
    stats = ["estimate", "std_error", "ci_lower", "ci_upper", "fmi"]
    parts = {}
    for name, imp in imputations.items():
        if not isinstance(imp, Imputation):
            raise TypeError(f"`imputations[{name!r}]` must be an Imputation; got {type(imp)}")
        parts[str(name)] = _pooled(imp, analysis, backend, ci, fit_kwargs).table[stats]
    out = pd.concat(parts, axis=1, names=["model", "statistic"])
    out.index.name = "term"
    return out
