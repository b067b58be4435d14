"""The result of :func:`jmimpute.impute`: imputed cells, posterior and diagnostics.

Following mitml, the result stores only the imputed cells (dims ``imputation`` x ``cell``,
with coordinates naming each cell's row and column) and builds completed data sets on
request; the user's DataFrame is copied once and never modified.
"""

from __future__ import annotations

import html
import logging
import warnings
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.analysis.derive import (
    ClusterStatistic,
    DeriveFunction,
    apply_derived,
    check_derived,
)
from jmimpute.diagnostics import (
    RHAT_MAX,
    ConvergenceReport,
    ConvergenceWarning,
    convergence_report,
    group_table,
    parameter_table,
    unique_parameters,
)
from jmimpute.missingness import missing_table
from jmimpute.spec.model import ImputationSpec, build_spec, check_seed, spec_arguments
from jmimpute.spec.variables import Variable

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.models.protocol import BuiltModel, ImputationModel
    from jmimpute.sampling.run import Sampled
    from jmimpute.spec.priors import Priors

_log = logging.getLogger("jmimpute")


@dataclass(frozen=True, eq=False)
class ImputationSummary:
    """Missingness per variable and the convergence report of an imputation run."""

    formula: str
    m: int
    method: str
    sampler: str
    missing: pd.DataFrame
    convergence: ConvergenceReport

    @property
    def converged(self) -> bool:
        """Whether every parameter group meets the R-hat and ESS thresholds."""
        return self.convergence.converged

    def __str__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return "\n".join(
                [
                    f"Multilevel joint-model imputation: {self.formula}",
                    f"m = {self.m} imputations, method = {self.method}, sampler = {self.sampler}",
                    "",
                    "Missing values:",
                    self.missing.to_string(float_format=lambda v: f"{v:.3f}"),
                    "",
                    str(self.convergence),
                ]
            )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (
            f"<h4>Multilevel joint-model imputation: <code>{html.escape(self.formula)}</code></h4>"
            f"<p>m = {self.m}, method = {self.method}, sampler = {self.sampler}</p>"
            f"<p><b>Missing values</b></p>{self.missing.to_html(float_format='{:.3f}'.format)}"
            f"{self.convergence._repr_html_()}"
        )


class Imputation:
    """Multiply imputed data from a Bayesian joint model.

    Create it with :func:`jmimpute.impute`. The ``m`` imputations are posterior draws of
    the missing cells, taken from retained NUTS draws spaced evenly over all chains.

    Attributes
    ----------
    spec : ImputationSpec
        What was asked.
    tree : xarray.DataTree
        The whole result, with ArviZ's groups (:mod:`jmimpute.results.tree`):
        ``posterior`` (the imputation model's parameters on the data's scale: ``beta``,
        ``sigma``, ``psi``), ``standardised_posterior`` (the same on the internal
        standardised scale), ``sample_stats``, ``observed_data`` (the incomplete data) and
        ``imputations`` (the imputed cells). ArviZ's functions take it as it is.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        spec: ImputationSpec,
        tree: xr.DataTree,
        derived: dict[str, ClusterStatistic | DeriveFunction] | None = None,
        *,
        variables: tuple[tuple[Variable, ...], tuple[Variable, ...]] = ((), ()),
        built: BuiltModel | None = None,
    ) -> None:
        self._data = data
        # the built and compiled model, reused by refit() and the sensitivity analyses;
        # None after loading from a file (built again on demand)
        self._built = built
        self._design_cache: Design | None = None
        self.spec = spec
        self.tree = tree
        self._derived = dict(derived or {})
        self._variables = variables
        self._params: pd.DataFrame | None = None

    @classmethod
    def from_sampled(
        cls,
        data: pd.DataFrame,
        variables: tuple[tuple[Variable, ...], tuple[Variable, ...]],
        seed: int,
        model: ImputationModel,
        built: BuiltModel,
        sampled: Sampled,
        derived: dict[str, ClusterStatistic | DeriveFunction],
    ) -> Imputation:
        """The result of one run; warns if the chains have not converged.

        Parameters
        ----------
        data : pandas.DataFrame
            The incomplete data (the result keeps this object; pass a copy).
        variables : tuple of tuple of Variable
            The level-1 and level-2 targets.
        seed : int
            The run's seed (re-draws derive the imputations' streams from it).
        model, built : ImputationModel, BuiltModel
            The model and what it built, kept for refits.
        sampled : Sampled
            From :func:`jmimpute.sampling.run.sample`.
        derived : dict
            Derived variables to attach (:meth:`with_columns`).

        Returns
        -------
        Imputation
        """
        from jmimpute.results.tree import result_tree

        tree = result_tree(model, built.design, sampled, data, seed)
        result = cls(data, sampled.spec, tree, derived, variables=variables, built=built)
        result._check_mixing()
        return result

    @property
    def posterior(self) -> xr.DataTree:
        """The imputation model's parameters on the data's scale (the tree's ``posterior``)."""
        return self.tree.children["posterior"]

    def _copy(
        self,
        tree: xr.DataTree | None = None,
        derived: dict[str, ClusterStatistic | DeriveFunction] | None = None,
    ) -> Imputation:
        out = Imputation(
            self._data,
            self.spec,
            self.tree if tree is None else tree,
            self._derived if derived is None else derived,
            variables=self._variables,
            built=self._built,
        )
        out._params = self._params
        out._design_cache = self._design_cache
        return out

    def _design(self) -> Design:
        """The standardised design of the imputation model (built again after loading)."""
        if self._built is not None:
            return self._built.design
        if self._design_cache is None:
            from jmimpute.models import model_for

            level1, level2 = self._variables
            self._design_cache = model_for(self.spec.method).design(
                self._data, self.spec, level1, level2
            )
        return self._design_cache

    def refit(
        self,
        *,
        priors: Priors | None = None,
        random_seed: int | None = None,
        m: int | None = None,
        chains: int | None = None,
        tune: int | None = None,
        draws: int | None = None,
        cores: int | None = None,
        target_accept: float | None = None,
        progressbar: bool | None = None,
    ) -> Imputation:
        """Impute again with the same data and model, other priors or sampler settings.

        Reuses the compiled model of this session (the priors are shared data of the
        compiled sampler), so only sampling is repeated: for prior sensitivity analyses,
        compare the results with :func:`jmimpute.compare_models`. A result loaded from a
        file is compiled once, then reused by its own refits. With nutpie's JAX backend
        (which freezes shared data) or PyMC's sampler the model is compiled again.

        Parameters
        ----------
        priors : Priors, optional
            New priors (default: this result's).
        random_seed : int, optional
            Default: this result's seed, so that only the changed setting differs.
        m, chains, tune, draws, cores, target_accept, progressbar : optional
            As in :func:`jmimpute.impute` (default: this result's).

        Returns
        -------
        Imputation
            Equal to ``jm.impute`` with the same arguments and this result's method (one
            chosen from the data is kept, since its model is built); derived variables
            are kept.

        Examples
        --------
        >>> wide = imp.refit(priors=jm.Priors(psi_sd=5.0))  # doctest: +SKIP
        >>> jm.compare_models({"default": imp, "wide": wide},
        ...                   "lpo ~ iqv + (1|sch)")  # doctest: +SKIP
        """
        from jmimpute.models import model_for
        from jmimpute.sampling.run import sample

        args = spec_arguments(self.spec)
        changes = {
            "priors": priors,
            "m": m,
            "chains": chains,
            "tune": tune,
            "draws": draws,
            "cores": cores,
            "target_accept": target_accept,
            "progressbar": progressbar,
        }
        args |= {k: v for k, v in changes.items() if v is not None}
        # the model already built, whether the user or the data chose it: the changes
        # above could move the choice (jmimpute.models.choice), not the built model
        args["method"] = self.spec.method
        spec = replace(build_spec(args.pop("formula"), **args), auto_method=self.spec.auto_method)
        if random_seed is None:
            random_seed = self.tree.attrs.get("random_seed")
        seed = check_seed(random_seed)
        model = model_for(spec.method)
        if self._built is None:  # read from a file: build once, then keep for later refits
            self._built = model.build(self._design(), spec)
        sampled = sample(model, self._built, spec, seed)
        return Imputation.from_sampled(
            self._data, self._variables, seed, model, self._built, sampled, dict(self._derived)
        )

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The targets (level 1, then level 2), with their kinds and categories."""
        return self._variables[0] + self._variables[1]

    def with_columns(self, **derived: ClusterStatistic | DeriveFunction) -> Imputation:
        """Attach variables derived from the imputed values to every completed data set.

        Parameters
        ----------
        **derived
            New column names mapped to :func:`jmimpute.cluster_mean`,
            :func:`jmimpute.cluster_centre` or a function of the completed DataFrame. They are
            computed on each completed set, after imputation, in the order given.

        Returns
        -------
        Imputation
            A new result sharing this one's imputations.

        Examples
        --------
        >>> imp2 = imp.with_columns(iqm=jm.cluster_mean("iqv"))  # doctest: +SKIP
        >>> imp2.complete(1)["iqm"]  # doctest: +SKIP
        """
        clash = [name for name in derived if name in self._data.columns]
        if clash:
            raise ValueError(
                f"derived variable names {clash} are already columns of the data; choose "
                "other names"
            )
        return self._copy(derived=self._derived | check_derived(derived))

    def subset(self, imputations: list[int] | range) -> Imputation:
        """A result holding only the given imputations (numbered from 1), renumbered 1..k.

        Examples
        --------
        >>> first_ten = imp.subset(range(1, 11))  # doctest: +SKIP
        """
        chosen = [int(k) for k in imputations]
        bad = [k for k in chosen if not 1 <= k <= self.m]
        if bad or not chosen:
            raise ValueError(f"`imputations` must be numbers between 1 and m={self.m}; got {bad}")
        cells = self.tree["imputations"].to_dataset().sel(imputation=chosen)
        cells = cells.assign_coords(imputation=np.arange(1, len(chosen) + 1))
        tree = self.tree.copy()
        tree["imputations"] = xr.DataTree(cells)
        return self._copy(tree=tree)

    @property
    def derived(self) -> tuple[str, ...]:
        """Names of the derived variables attached with :meth:`with_columns`."""
        return tuple(self._derived)

    # -- basic facts ----------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of imputations."""
        return int(self.imputed.sizes["imputation"])

    @property
    def imputed(self) -> xr.DataArray:
        """The imputed level-1 cells, dims ``(imputation, cell)``, coords ``row`` and ``column``.

        Continuous values on the data's scale; categorical targets as category codes
        (positions in the variable's categories; :meth:`complete` returns the levels).
        """
        return self.tree["imputations"].dataset["imputed"]

    @property
    def imputed_level2(self) -> xr.DataArray | None:
        """The imputed level-2 values, or None without level-2 targets.

        Dims ``(imputation, cell2)``, coords ``cluster`` and ``column2``.
        """
        ds = self.tree["imputations"].dataset
        return ds["imputed_level2"] if "imputed_level2" in ds else None

    @property
    def data(self) -> pd.DataFrame:
        """A copy of the incomplete data."""
        return self._data.copy(deep=True)

    # -- completed data sets ---------------------------------------------------------
    @overload
    def complete(self, which: int = 1, *, include: bool = False) -> pd.DataFrame: ...

    @overload
    def complete(self, which: Literal["long"], *, include: bool = False) -> pd.DataFrame: ...

    @overload
    def complete(self, which: Literal["all"], *, include: bool = False) -> list[pd.DataFrame]: ...

    def complete(
        self, which: int | str = 1, *, include: bool = False
    ) -> pd.DataFrame | list[pd.DataFrame]:
        """Build completed data sets.

        Parameters
        ----------
        which : int, "long" or "all", default 1
            An imputation number ``1 .. m`` (1-based, as in mice and mitml); ``"long"`` for
            all of them stacked with an ``.imp`` column (1..m) and an ``.id`` column (the
            original row label), mice's long layout; ``"all"`` for a list of m frames.
        include : bool, default False
            With ``"long"`` or ``"all"``, also include the incomplete data as imputation 0.

        Returns
        -------
        pandas.DataFrame or list of pandas.DataFrame

        Examples
        --------
        >>> imp.complete(1)  # doctest: +SKIP
        >>> imp.complete("long").groupby(".imp").lpo.mean()  # doctest: +SKIP
        """
        if which == "long":
            frames = self._all(include)
            stacked = []
            for k, frame in zip(range(0 if include else 1, self.m + 1), frames, strict=True):
                front = pd.DataFrame({".imp": k, ".id": frame.index}, index=frame.index)
                stacked.append(pd.concat([front, frame], axis=1))
            return pd.concat(stacked, ignore_index=True)
        if which == "all":
            return self._all(include)
        if isinstance(which, bool) or not isinstance(which, int | np.integer):
            raise TypeError(
                f"`which` must be an imputation number 1..{self.m}, 'long' or 'all'; got {which!r}"
            )
        if not 1 <= which <= self.m:
            raise ValueError(
                f"`which` must be between 1 and m={self.m} (imputations are numbered from 1, "
                f"as in mice and mitml); got {which}"
            )
        return self._completed(int(which))

    def _all(self, include: bool) -> list[pd.DataFrame]:
        frames = [self._completed(k) for k in range(1, self.m + 1)]
        if not include:
            return frames
        # derived variables are not computed from incomplete data: NaN in imputation 0
        original = self.data.assign(**dict.fromkeys(self._derived, np.nan))
        return [original, *frames]

    def _completed(self, k: int) -> pd.DataFrame:
        out = self._data.copy(deep=True)
        cells = self.imputed.sel(imputation=k)
        rows = cells["row"].to_numpy()
        columns = cells["column"].to_numpy()
        values = cells.to_numpy()
        level1, level2 = self._variables
        for var in level1:
            sel = columns == var.name
            out[var.name] = var.fill(out[var.name], rows[sel], values[sel])
        if level2:
            cl = self.imputed_level2
            assert cl is not None
            cl = cl.sel(imputation=k)
            codes, labels = pd.factorize(out[self.spec.cluster], sort=True)
            position = {label: i for i, label in enumerate(labels)}
            for var in level2:
                sel = cl["column2"].to_numpy() == var.name
                clusters = [position[c] for c in cl["cluster"].to_numpy()[sel]]
                by_cluster = np.full(len(labels), np.nan)
                by_cluster[clusters] = cl.to_numpy()[sel]
                missing = out[var.name].isna().to_numpy()
                # observed level-2 values fill their cluster's other rows; imputed ones all
                known = out[var.name].groupby(codes).transform("first")
                fill_rows = np.flatnonzero(missing & known.isna().to_numpy())
                col = var.fill(out[var.name], fill_rows, by_cluster[codes[fill_rows]])
                rest = np.flatnonzero(missing & known.notna().to_numpy())
                if rest.size:
                    col = col.copy()
                    col.iloc[rest] = known.iloc[rest].to_numpy()
                out[var.name] = col
        return apply_derived(out, self._derived, self.spec.cluster)

    # -- diagnostics -----------------------------------------------------------------
    def convergence(self) -> pd.DataFrame:
        """R-hat, bulk and tail ESS of every imputation-model parameter."""
        if self._params is None:
            self._params = parameter_table(self.posterior.dataset)
        return self._params

    def model_estimates(self, ci: float = 0.95) -> pd.DataFrame:
        """The analysis model's own posterior (Blimp's "analysis model estimates").

        Only for an imputation made with ``analysis=``: the substantive model's fixed
        effects (``beta[term]``), random-effect covariance (``tau[...]``, lower triangle)
        and residual variance (``sigma2``), on the data's scale, over all retained draws;
        for a binary outcome the probit's ``beta`` and ``tau``, without ``sigma2``.

        Parameters
        ----------
        ci : float, default 0.95
            Mass of the equal-tailed credible interval.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter: ``mean``, ``sd``, the interval's bounds, ``r_hat``,
            ``ess_bulk``, ``ess_tail``.

        Raises
        ------
        ValueError
            For a joint-model imputation, whose parameters are not an analysis model's.
        """
        if self.spec.analysis is None:
            raise ValueError(
                "model_estimates() needs an imputation made with `analysis=` (the substantive "
                "model); for this joint-model imputation fit the analysis with jm.analyze(imp, "
                "formula) and pool it"
            )
        if not 0.0 < ci < 1.0:
            raise ValueError(f"`ci` must lie in (0, 1), got {ci}")
        table = self.convergence()
        names = ("beta", "tau", "sigma2")
        rows = [p for p in table.index if str(p).split("[")[0] in names]
        out = table.loc[rows, ["mean", "sd", "r_hat", "ess_bulk", "ess_tail"]].copy()
        tail = (1.0 - ci) / 2.0
        low, high = [], []
        for name, (_, draws) in unique_parameters(self.posterior.dataset).items():
            if name in out.index:
                low.append((name, float(np.quantile(draws, tail))))
                high.append((name, float(np.quantile(draws, 1.0 - tail))))
        out.insert(2, f"{tail:.1%}", pd.Series(dict(low)))
        out.insert(3, f"{1.0 - tail:.1%}", pd.Series(dict(high)))
        return out

    def rhat(self) -> pd.DataFrame:
        """Max R-hat and min ESS per parameter group, naming the worst parameter.

        Groups: fixed effects, level-1 covariance, cluster covariance and, where the model
        has them, level-2 fixed effects and thresholds.
        """
        return group_table(self.convergence())

    def convergence_report(self) -> ConvergenceReport:
        """R-hat and ESS per parameter group, divergences, tree depth, a verdict and advice.

        Returns
        -------
        ConvergenceReport
            ``.ok`` says whether every check passed; ``.advice`` what to change if not.

        Examples
        --------
        >>> imp.convergence_report()  # doctest: +SKIP
        """
        settings = self.spec.sampler
        return convergence_report(
            self.tree,
            params=self.convergence(),
            tune=settings.tune,
            target_accept=settings.target_accept,
        )

    def missingness(self) -> pd.DataFrame:
        """Missing values per target (rows; level-2 targets also count clusters)."""
        return missing_table(
            self._data, [*self.spec.targets, *self.spec.level2_targets],
            cluster=self.spec.cluster, level2=self.spec.level2_targets,
        )  # fmt: skip

    def summary(self) -> ImputationSummary:
        """Missingness per variable and the convergence report (:meth:`convergence_report`)."""
        return ImputationSummary(
            formula=self.spec.formula_text,
            m=self.m,
            method=self.spec.method
            + (
                ", cluster-specific level-1 covariances"
                if self.spec.cluster_covariance == "random"
                else ""
            ),
            sampler=f"{self.spec.sampler.sampler}"
            + (f"/{self.spec.sampler.backend}" if self.spec.sampler.sampler == "nutpie" else ""),
            missing=self.missingness(),
            convergence=self.convergence_report(),
        )

    def __repr__(self) -> str:
        n_cells = int(self.imputed.sizes["cell"])
        l2 = self.imputed_level2
        extra = f" and {int(l2.sizes['cell2'])} cluster values" if l2 is not None else ""
        return (
            f"<Imputation: {self.spec.formula_text}, m={self.m}, {n_cells} imputed cells"
            f"{extra} in {len(self.variables)} variables, method={self.spec.method}>"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # -- export (jmimpute.results.exports, jmimpute.results.archive) --------------------------
    def to_long(
        self, path: str | PathLike[str] | None = None, *, include: bool = False
    ) -> pd.DataFrame:
        """The completed sets stacked (``.imp``, ``.id``), optionally written to a file.

        Parameters
        ----------
        path : str or path-like, optional
            A ``.csv`` or ``.parquet`` file (Parquet needs pyarrow).
        include : bool, default False
            Also include the incomplete data as imputation 0.

        Returns
        -------
        pandas.DataFrame
            The same as ``complete("long", include=include)``.

        Examples
        --------
        >>> imp.to_long("out/brandsma_long.csv")  # doctest: +SKIP
        """
        from jmimpute.results.exports import to_long

        return to_long(self, path, include=include)

    def to_sets(self, directory: str | PathLike[str], fmt: str = "csv") -> list[Path]:
        """Write each completed set to its own file, ``imp_01.csv`` .. in ``directory``.

        Parameters
        ----------
        directory : str or path-like
            Created if missing.
        fmt : {"csv", "parquet"}, default "csv"

        Returns
        -------
        list of pathlib.Path
        """
        from jmimpute.results.exports import to_sets

        return to_sets(self, directory, fmt)

    def export(self, package: str, path: str | PathLike[str], **options: Any) -> list[Path]:
        """Write the completed sets in the layout an analysis program pools over.

        Parameters
        ----------
        package : {"mplus", "stata", "spss", "r"}
            ``"mplus"``: a folder of headerless data files, ``implist.dat`` and an input
            template (``TYPE = IMPUTATION``); ``"stata"``: ``mi``'s flong layout (.dta);
            ``"spss"``: the ``Imputation_`` split layout (.sav); ``"r"``: mice's long
            layout with the incomplete data as ``.imp`` 0 (CSV, for ``mice::as.mids``).
        path : str or path-like
            A folder for Mplus, else a file.
        **options
            ``columns``, ``rename``, and for Mplus ``sep``, ``missing``,
            ``max_name_length``: see :func:`jmimpute.results.handoff.export`.

        Returns
        -------
        list of pathlib.Path
            The files written.

        Examples
        --------
        >>> imp.export("mplus", "out/mplus")  # doctest: +SKIP
        >>> imp.export("stata", "out/brandsma.dta")  # doctest: +SKIP
        """
        from jmimpute.results.handoff import export

        return export(self, package, path, **options)

    def to_netcdf(self, path: str | PathLike[str]) -> Path:
        """Save the whole result to a netCDF-4 file; read it with :func:`jmimpute.load_imputation`.

        The file holds the posterior DataTree, the incomplete data (with its dtypes) and
        the specification. Derived variables are kept if made with
        :func:`jmimpute.cluster_mean` or :func:`jmimpute.cluster_centre`; Python functions
        cannot be saved and are left out with a warning.

        Examples
        --------
        >>> imp.to_netcdf("out/brandsma.nc")  # doctest: +SKIP
        >>> jm.load_imputation("out/brandsma.nc")  # doctest: +SKIP
        """
        from jmimpute.results.archive import write_result

        return write_result(self.tree, self._data, self.spec, self._derived, path)

    def to_zarr(self, path: str | PathLike[str]) -> Path:
        """Save the whole result to a Zarr store (a folder), as :meth:`to_netcdf` does."""
        from jmimpute.results.archive import write_result

        return write_result(self.tree, self._data, self.spec, self._derived, path, engine="zarr")

    # -- checks after a run ----------------------------------------------------------
    def _check_mixing(self) -> None:
        """Warn when the chains have not converged or mix too slowly for m separated draws."""
        table = self.convergence()
        if table["r_hat"].isna().all():  # one chain: R-hat needs at least two
            _warn(
                f"R-hat cannot be computed from chains={self.spec.sampler.chains}; convergence "
                "is unchecked. Run at least 2 chains (the default is 4) before trusting the "
                "imputations."
            )
        elif table["r_hat"].max() > RHAT_MAX:
            worst_rhat = table["r_hat"].idxmax()
            _warn(
                f"R-hat of {worst_rhat} is {table['r_hat'].max():.3f} > {RHAT_MAX}: the chains of "
                "the imputation model have not converged. Raise `tune` (and `draws`) and rerun; "
                "see imp.summary()."
            )
        ess = table["ess_bulk"].min()
        worst_ess = table["ess_bulk"].idxmin()
        m = self.m
        if not ess >= m:
            total = self.spec.sampler.retained
            needed = int(np.ceil(self.spec.sampler.draws * m / max(ess, 1.0)))
            _warn(
                f"The smallest bulk ESS of the imputation-model parameters is {ess:.0f} "
                f"({worst_ess}), below m={m}: the m imputations are {total // m} iterations "
                f"apart but the chains need about {total / max(ess, 1.0):.0f} iterations per "
                "independent draw, so the imputations are not well separated. Raise `draws` "
                f"to at least {needed} (or lower m)."
            )


def _warn(message: str) -> None:
    """Log and warn (a ConvergenceWarning at the user's call of impute or refit)."""
    _log.warning(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=5)
