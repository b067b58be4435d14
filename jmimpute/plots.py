"""Plots of an imputation: the imputation model's chains, and imputed against observed values.

Every function takes an :class:`~jmimpute.Imputation` and returns a matplotlib
``Figure``. Observed values are drawn in blue and imputed ones in red, as in van Buuren's
*Flexible Imputation of Missing Data* (Fig. 7.6) and mice's ``densityplot``. Figures are
made with pyplot (so a script can call ``plt.show()``), work with the non-interactive Agg
backend, and can be saved with ``fig.savefig(path)``. matplotlib and ArviZ's plotting
(used for traces and ranks) are imported when a plot is drawn, so ``import jmimpute`` stays
fast.

Examples
--------
>>> import jmimpute as jm
>>> imp = jm.impute(jm.datasets.load_brandsma(), "lpo + iqv ~ 1 + (1|sch)")  # doctest: +SKIP
>>> jm.plots.plot_densities(imp).savefig("densities.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.diagnostics import unique_parameters
from jmimpute.spec.variables import Variable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from jmimpute.results.imputation import Imputation

__all__ = ["plot_categories", "plot_densities", "plot_level2", "plot_rank", "plot_trace"]

OBSERVED: dict[str, Any] = {"color": "tab:blue", "linewidth": 2.5}
IMPUTED: dict[str, Any] = {"color": "tab:red", "linewidth": 0.8, "alpha": 0.8}
PANEL_SIZE = (4.2, 3.2)


# -- the imputation model's chains -------------------------------------------------------
def plot_trace(imp: Imputation, var_names: Sequence[str] | None = None) -> Figure:
    """Trace and marginal density of each imputation-model parameter, per chain.

    Drawn by ArviZ (``arviz_plots.plot_trace_dist``); divergent transitions are marked
    under the traces.

    Parameters
    ----------
    imp : Imputation
    var_names : sequence of str, optional
        Which parameters: model variables (``"beta"``, ``"sigma"``, ``"psi"``,
        ``"gamma"``, ``"thresholds_<name>"``), groups (``"fixed effects"``,
        ``"cluster covariance"``, ...) or single parameters (``"sigma[iqv, lpo]"``, as
        :meth:`~jmimpute.Imputation.convergence` names them). Default: all.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> jm.plots.plot_trace(imp, ["psi"])  # doctest: +SKIP
    """
    import arviz_plots as azp
    from arviz_base import rc_context

    tree = _parameter_tree(imp, var_names)
    with rc_context(_subplot_limit(2 * len(tree["posterior"].data_vars))):
        pc = azp.plot_trace_dist(tree, kind="kde", backend="matplotlib")
    return pc.get_viz("figure")


def plot_rank(imp: Imputation, var_names: Sequence[str] | None = None) -> Figure:
    """Rank plots of the imputation-model parameters: one fractional-rank ECDF per chain.

    Drawn by ArviZ (``arviz_plots.plot_rank``). Chains that sample the same distribution
    give ECDFs that stay near one another; each panel prints the p-value of ArviZ's
    multiple-chain uniformity test.

    Parameters
    ----------
    imp : Imputation
    var_names : sequence of str, optional
        As in :func:`plot_trace`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> jm.plots.plot_rank(imp, ["cluster covariance"])  # doctest: +SKIP
    """
    import arviz_plots as azp
    from arviz_base import rc_context

    tree = _parameter_tree(imp, var_names)
    n = len(tree["posterior"].data_vars)
    cols = min(n, 4)
    rows = -(-n // cols)
    figsize = (PANEL_SIZE[0] * cols, 3.0 * rows)
    with rc_context(_subplot_limit(n)):
        pc = azp.plot_rank(tree, backend="matplotlib", figure_kwargs={"figsize": figsize})
    fig = pc.get_viz("figure")
    fig.set_layout_engine("constrained")  # long parameter names overlap the axes above
    return fig


def _subplot_limit(n: int) -> dict[str, int]:
    """ArviZ refuses more than 40 panels by default; the user asked for these ``n``."""
    from arviz_base import rcParams

    return {"plot.max_subplots": max(n, rcParams["plot.max_subplots"] or 0)}


def _parameter_tree(imp: Imputation, var_names: Sequence[str] | None) -> xr.DataTree:
    """The unique free parameters, one variable each, and the divergences, for ArviZ."""
    params = unique_parameters(imp.posterior.to_dataset())
    if var_names is not None:
        if isinstance(var_names, str):
            var_names = [var_names]
        bases = {name.split("[")[0] for name in params}
        groups = {group for group, _ in params.values()}
        unknown = [v for v in var_names if v not in bases | groups | set(params)]
        if unknown:
            raise ValueError(
                f"`var_names` has {unknown}, which name no parameter of this imputation "
                f"model; valid: variables {sorted(bases)}, groups {sorted(groups)} or single "
                f"parameters such as {next(iter(params))!r} (see imp.convergence().index)."
            )
        wanted = set(var_names)
        params = {
            name: value
            for name, value in params.items()
            if {name, name.split("[")[0], value[0]} & wanted
        }
    first = next(iter(params.values()))[1]
    coords = {"chain": np.arange(first.shape[0]), "draw": np.arange(first.shape[1])}
    posterior = xr.Dataset(
        {name: (("chain", "draw"), draws) for name, (_, draws) in params.items()}, coords=coords
    )
    groups_out = {"posterior": posterior}
    if "sample_stats" in imp.tree.children:
        stats = imp.tree["sample_stats"].to_dataset()
        if "diverging" in stats:
            groups_out["sample_stats"] = xr.Dataset(
                {"diverging": stats["diverging"].transpose("chain", "draw")}, coords=coords
            )
    return xr.DataTree.from_dict(groups_out)


# -- imputed against observed values -----------------------------------------------------
def plot_densities(
    imp: Imputation, variables: Sequence[str] | None = None, *, ncols: int = 3
) -> Figure:
    """Density of the observed values against the imputed values of each set.

    For each continuous target, the kernel density of its observed values (blue, thick)
    and of the imputed values of each of the m sets (red, thin), as in van Buuren (2018,
    Fig. 7.6). Under MAR the two may differ; imputed densities far outside the observed
    range, or sets that disagree wildly, call for a closer look. Level-2 targets compare
    one value per cluster.

    Parameters
    ----------
    imp : Imputation
    variables : sequence of str, optional
        Continuous targets to show; default all.
    ncols : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = jm.plots.plot_densities(imp, ["lpo"])  # doctest: +SKIP
    >>> fig.savefig("lpo.png")  # doctest: +SKIP
    """
    from scipy.stats import gaussian_kde

    chosen = _choose(
        imp, variables, lambda v: not v.latent, "continuous", "use plot_categories for the others"
    )
    fig, axes = _panels(len(chosen), ncols)
    for ax, var in zip(axes, chosen, strict=False):
        observed = _observed(imp, var)
        sets = _imputed_sets(imp, var)
        values = np.concatenate([observed, *sets])
        lo, hi = float(values.min()), float(values.max())
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        grid = np.linspace(lo - pad, hi + pad, 256)
        for k, draws in enumerate(sets):
            label = f"imputed, {len(sets)} sets (n = {draws.size} each)" if k == 0 else None
            _density(ax, grid, draws, gaussian_kde, label=label, **IMPUTED)
        _density(
            ax, grid, observed, gaussian_kde, label=f"observed (n = {observed.size})", **OBSERVED
        )
        ax.set_title(var.name + ("" if var.level == 1 else " (level 2, one value per cluster)"))
        ax.set_xlabel(var.name)
        ax.set_ylabel("density")
        ax.set_ylim(0.0, 1.3 * ax.get_ylim()[1])  # headroom: the legend sits above the curves
        ax.legend(fontsize="small", frameon=False, loc="upper left")
    fig.suptitle(f"Observed (blue) and imputed (red) values, m = {imp.m}")
    return fig


def _density(ax: Axes, grid: np.ndarray, values: np.ndarray, kde: Any, **style: Any) -> None:
    """A kernel density, or a spike where the values cannot carry one (< 2 distinct)."""
    if np.unique(values).size < 2:
        if values.size:
            ax.axvline(float(values[0]), **style)
        return
    ax.plot(grid, kde(values)(grid), **style)


def plot_categories(
    imp: Imputation, variables: Sequence[str] | None = None, *, ncols: int = 3
) -> Figure:
    """Category shares of the observed values against the imputed values of each set.

    For each categorical target (binary, nominal or ordinal) a bar per category for the
    observed shares (blue) beside one thin bar per imputed set (red). Level-2 targets count
    clusters.

    Parameters
    ----------
    imp : Imputation
    variables : sequence of str, optional
        Categorical targets to show; default all.
    ncols : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> jm.plots.plot_categories(imp)  # doctest: +SKIP
    """
    chosen = _choose(
        imp, variables, lambda v: v.latent, "categorical", "use plot_densities for the others"
    )
    fig, axes = _panels(len(chosen), ncols)
    for ax, var in zip(axes, chosen, strict=False):
        n_cat = len(var.categories)
        observed = _observed(imp, var).astype(np.int64)
        sets = [s.astype(np.int64) for s in _imputed_sets(imp, var)]
        x = np.arange(n_cat)
        share_obs = np.bincount(observed, minlength=n_cat) / max(observed.size, 1)
        ax.bar(x - 0.2, share_obs, width=0.4, color=OBSERVED["color"], label="observed")
        width = 0.4 / len(sets)
        for k, draws in enumerate(sets):
            share = np.bincount(draws, minlength=n_cat) / max(draws.size, 1)
            ax.bar(
                x + width * (k + 0.5),
                share,
                width=width,
                color=IMPUTED["color"],
                alpha=0.5 + 0.5 * (k % 2),  # alternate so neighbouring sets stay apart
                label=f"imputed, {len(sets)} sets" if k == 0 else None,
            )
        ax.set_xticks(x, [str(c) for c in var.categories])
        unit = "rows" if var.level == 1 else "clusters"
        ax.set_title(f"{var.name} ({var.kind}{', level 2' if var.level == 2 else ''})")
        ax.set_ylabel(f"share of {unit}")
        ax.legend(fontsize="small", frameon=False)
    fig.suptitle(f"Observed (blue) and imputed (red) category shares, m = {imp.m}")
    return fig


def plot_level2(
    imp: Imputation,
    variables: Sequence[str] | None = None,
    *,
    against: str | None = None,
    ncols: int = 3,
) -> Figure:
    """The cluster level: imputed values against the observed values of their cluster.

    - A continuous or binary level-1 target: per cluster, the mean of its imputed values
      in each set (red) against the mean of its observed values, with the line
      ``imputed = observed`` (blue). A random intercept makes imputed values follow their
      cluster, shrunk towards the overall mean; a cloud without slope says the model
      ignores the clustering.
    - A level-2 target: its value per cluster, observed (blue) or imputed in each set
      (red), against the cluster mean of ``against``.

    Parameters
    ----------
    imp : Imputation
    variables : sequence of str, optional
        Targets to show: continuous or binary level-1 targets and level-2 targets;
        default all of them.
    against : str, optional
        A numeric column whose observed cluster means are the x axis of the level-2
        panels. Default: the first continuous level-1 target, else the cluster size.
    ncols : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> jm.plots.plot_level2(imp, ["lpo", "den"], against="iqv")  # doctest: +SKIP
    """
    chosen = _choose(
        imp,
        variables,
        lambda v: v.level == 2 or v.behaviour.averages,
        "continuous or binary level-1 or level-2",
        "nominal and ordinal level-1 targets have no cluster mean; use plot_categories",
    )
    data = imp.data
    clusters = data[imp.spec.cluster]
    x_name, x_values = _against(imp, data, against)
    fig, axes = _panels(len(chosen), ncols)
    for ax, var in zip(axes, chosen, strict=False):
        if var.level == 1:
            _cluster_means(ax, imp, var, data, clusters)
        else:
            _level2_values(ax, imp, var, data, x_values)
            ax.set_xlabel(f"cluster mean of {x_name}")
    fig.suptitle(f"Cluster level: observed (blue) and imputed (red), m = {imp.m}")
    return fig


def _cluster_means(
    ax: Axes, imp: Imputation, var: Variable, data: pd.DataFrame, clusters: pd.Series
) -> None:
    if var.latent:  # binary: the mean of the codes is the share of the second category
        values = var.codes(data[var.name]).astype("float64")
        values[values < 0] = np.nan
    else:
        values = data[var.name].to_numpy(dtype="float64", na_value=np.nan)
    labels = clusters.to_numpy()
    obs_mean = pd.Series(values).groupby(labels).mean().dropna()
    cells = imp.imputed
    cells = cells.isel(cell=np.flatnonzero(cells["column"].to_numpy() == var.name))
    cell_clusters = labels[cells["row"].to_numpy().astype(np.int64)]
    seen: list[np.ndarray] = []
    for k in range(imp.m):
        imp_mean = pd.Series(cells.isel(imputation=k).to_numpy()).groupby(cell_clusters).mean()
        both = imp_mean.index.intersection(obs_mean.index)
        x, y = obs_mean[both].to_numpy(), imp_mean[both].to_numpy()
        ax.scatter(x, y, s=8, color=IMPUTED["color"], alpha=0.4,
                   label=f"imputed, {imp.m} sets" if k == 0 else None)  # fmt: skip
        seen += [x, y]
    both_axes = np.concatenate(seen) if seen else np.empty(0)
    if both_axes.size:
        ends = [float(both_axes.min()), float(both_axes.max())]
        ax.plot(ends, ends, label="imputed = observed", **OBSERVED)
    what = "mean" if not var.latent else f"share of {var.categories[1]}"
    ax.set_title(f"{var.name}: cluster {what}")
    ax.set_xlabel(f"{what} of observed values in the cluster")
    ax.set_ylabel(f"{what} of imputed values")
    ax.legend(fontsize="small", frameon=False)


def _level2_values(
    ax: Axes, imp: Imputation, var: Variable, data: pd.DataFrame, x_values: pd.Series
) -> None:
    clusters = data[imp.spec.cluster]
    first = data[var.name].groupby(clusters.to_numpy()).first()
    observed = first.dropna()
    y_obs = (
        pd.Series(var.codes(observed), index=observed.index, dtype="float64")
        if var.latent
        else observed.astype("float64")
    )
    rng = np.random.default_rng(0)  # jitter only, so the figure is reproducible
    jitter = 0.08 if var.latent else 0.0
    ax.scatter(
        x_values.reindex(y_obs.index).to_numpy(),
        y_obs.to_numpy() + rng.uniform(-jitter, jitter, y_obs.size),
        s=14, color=OBSERVED["color"], alpha=0.7, label="observed",
    )  # fmt: skip
    level2 = imp.imputed_level2
    assert level2 is not None  # a level-2 target implies level-2 imputations
    cells = level2.isel(cell2=np.flatnonzero(level2["column2"].to_numpy() == var.name))
    x_imp = x_values.reindex(cells["cluster"].to_numpy()).to_numpy()
    for k in range(imp.m):
        y = cells.isel(imputation=k).to_numpy()
        ax.scatter(
            x_imp, y + rng.uniform(-jitter, jitter, y.size), s=10, color=IMPUTED["color"],
            alpha=0.5, label=f"imputed, {imp.m} sets" if k == 0 else None,
        )  # fmt: skip
    if var.latent:
        ax.set_yticks(np.arange(len(var.categories)), [str(c) for c in var.categories])
    ax.set_title(f"{var.name} (level 2)")
    ax.set_ylabel(var.name)
    ax.legend(fontsize="small", frameon=False)


def _against(imp: Imputation, data: pd.DataFrame, against: str | None) -> tuple[str, pd.Series]:
    """The x axis of the level-2 panels: observed cluster means of a numeric column."""
    clusters = data[imp.spec.cluster].to_numpy()
    if against is None:
        level1 = [v.name for v in imp.variables if v.level == 1 and not v.latent]
        if not level1:
            return "cluster size", data.groupby(clusters).size().astype("float64")
        against = level1[0]
    if against not in data.columns or not pd.api.types.is_numeric_dtype(data[against]):
        numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        raise ValueError(
            f"`against` must be a numeric column of the data; got {against!r}. "
            f"Numeric columns: {numeric}."
        )
    return against, data[against].astype("float64").groupby(clusters).mean()


# -- shared helpers ----------------------------------------------------------------------
def _choose(
    imp: Imputation,
    variables: Sequence[str] | None,
    keep: Any,
    kind: str,
    hint: str,
) -> list[Variable]:
    """The targets a plot shows, validated against the ones it can show."""
    eligible = [v for v in imp.variables if keep(v)]
    if variables is None:
        if not eligible:
            raise ValueError(
                f"this imputation has no {kind} targets to plot (targets: "
                f"{[v.name for v in imp.variables]}); {hint}."
            )
        return eligible
    if isinstance(variables, str):
        variables = [variables]
    by_name = {v.name: v for v in eligible}
    bad = [name for name in variables if name not in by_name]
    if bad or not variables:
        raise ValueError(
            f"`variables` must name {kind} targets of this imputation, {sorted(by_name)}; "
            f"got {list(variables)!r}" + (f" ({hint})" if bad else "") + "."
        )
    return [by_name[name] for name in variables]


def _panels(n: int, ncols: int) -> tuple[Figure, list[Axes]]:
    import matplotlib.pyplot as plt

    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"`ncols` must be a positive integer; got {ncols!r}")
    cols = min(n, ncols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _observed(imp: Imputation, var: Variable) -> np.ndarray:
    """Observed values (codes for categorical targets); one per cluster at level 2."""
    column = imp.data[var.name]
    if var.level == 2:
        column = column.groupby(imp.data[imp.spec.cluster].to_numpy()).first()
    column = column.dropna()
    if var.latent:
        return var.codes(column).astype("float64")
    return column.to_numpy(dtype="float64")


def _imputed_sets(imp: Imputation, var: Variable) -> list[np.ndarray]:
    """The imputed values of one target, one array per set."""
    if var.level == 1:
        cells = imp.imputed
        cells = cells.isel(cell=np.flatnonzero(cells["column"].to_numpy() == var.name))
    else:
        level2 = imp.imputed_level2
        assert level2 is not None  # a level-2 target implies level-2 imputations
        cells = level2.isel(cell2=np.flatnonzero(level2["column2"].to_numpy() == var.name))
    values = cells.transpose("imputation", ...).to_numpy()
    return [values[k] for k in range(values.shape[0])]
