"""``impute``: data in, joint model sampled with NUTS, m completed data sets out."""

from __future__ import annotations

import inspect
import logging
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.design.standardised import Design, build_design
from jmimpute.diagnostics import ESS_MIN, RHAT_MAX, parameter_table
from jmimpute.models.collapsed.build import build_collapsed_model, prior_shared, prior_values
from jmimpute.models.fitted import FittedModel
from jmimpute.models.joint.redraw import draw_imputations, imputation_seeds, owned
from jmimpute.results.imputation import Imputation
from jmimpute.results.tree import (
    ParameterDraws,
    parameter_datasets,
    result_tree,
    retained_dataset,
    retained_draws,
)
from jmimpute.sampling.nuts import Checkpoints, judged_in_one_run, run_sampler
from jmimpute.spec.model import ImputationSpec, build_spec, spec_arguments
from jmimpute.spec.priors import Priors
from jmimpute.spec.validate import validate
from jmimpute.spec.variables import Variable

_log = logging.getLogger("jmimpute")

# draws=None: the most draws per chain a run is given before the warning is left to stand
AUTO_MAX_DRAWS = 5000


class ConvergenceWarning(UserWarning):
    """The imputation model's chains have not converged or mix too slowly for ``m``."""


def impute(
    data: pd.DataFrame,
    formula: str | list[str] | ImputationSpec,
    *,
    categorical: list[str] | None = None,
    ordinal: list[str] | None = None,
    cluster_covariance: str = "common",
    m: int = 10,
    method: str = "collapsed",
    priors: Priors | None = None,
    chains: int = 4,
    tune: int | None = None,
    draws: int | None = None,
    random_seed: int | None = None,
    sampler: str = "nutpie",
    backend: str | None = None,
    cores: int | None = None,
    target_accept: float | None = None,
    progressbar: bool | None = None,
) -> Imputation:
    """Multiply impute incomplete multilevel data with a Bayesian joint model.

    The model (pan's and jomo's): for the incomplete level-1 targets ``y`` of row ``i`` in
    cluster ``j``, ``y_ij = B' x_ij + U_j' z_ij + e_ij`` with ``e_ij ~ N(0, Sigma)``;
    level-2 targets ``w_j = G' v_j + f_j``; ``(vec(U_j), f_j) ~ N(0, Psi)``. ``x``, ``z``
    and ``v`` are fully observed covariates. Categorical targets enter through latent
    normals. NUTS samples the posterior; the m imputations are draws of the missing values
    at retained draws spaced evenly over all chains.

    Parameters
    ----------
    data : pandas.DataFrame
        The incomplete data, one row per level-1 unit. Never modified.
    formula : str or list of str
        mitml-style formula: targets left of ``~``, fixed covariates and one random term
        ``(effects | cluster)`` on the right, e.g. ``"lpo + iqv ~ 1 + (1|sch)"`` or
        ``"lpo + iqv ~ 1 + ses + (1 + ses|sch)"``; or a list of that and a level-2
        formula, e.g. ``["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"]``; or an
        :class:`~jmimpute.spec.model.ImputationSpec` from :func:`jmimpute.specify`, which
        fixes every option below except ``random_seed`` and ``progressbar``.
    categorical, ordinal : list of str, optional
        Targets to model as unordered categorical (binary or nominal, jomo's latent
        normals) or ordinal (one latent normal with ordered thresholds). pandas
        ``category`` and ``bool`` columns are categorical without declaration (ordered
        categoricals are ordinal); imputed values are valid levels in the column's dtype.
    cluster_covariance : {"common", "random"}, default "common"
        ``"random"``: each cluster has its own level-1 covariance ``Sigma_j``, varying
        around the common ``Sigma`` with ``Sigma_j^{-1} ~ Wishart(nu, (nu Sigma)^{-1})``
        (jomo's ``meth = "random"``, mitml's ``random.L1 = "full"``); the spread
        ``tau = sqrt(2 / (nu - p - 1))`` has the prior ``Priors.sigma_cluster_sd``. Level-1
        targets must be continuous. The ``Sigma_j`` are sampled by NUTS (p (p + 1) / 2
        parameters per cluster); random effects and missing cells stay integrated out.
    m : int, default 10
        Number of imputations.
    method : {"collapsed", "latent"}, default "collapsed"
        ``"collapsed"`` integrates random effects and missing cells out of the NUTS
        target (cost independent of the number of rows) and draws them exactly
        afterwards; ``"latent"`` samples them with NUTS (the slower reference).
    priors : Priors, optional
        Priors on the standardised scale; see :class:`jmimpute.Priors`.
    chains : int, default 4
        NUTS chains.
    tune : int, optional
        Warm-up iterations per chain: 500 for the collapsed model with a common
        covariance (the default model), 1000 for the others (see ``target_accept``).
    draws : int, optional
        Retained draws per chain. If not given, sample until converged: convergence is
        judged after 1000 draws per chain, and while some parameter has R-hat > 1.01 or
        bulk or tail ESS < 400, again after more draws (where the ESS suggests it would
        be reached, at most 5000). With nutpie's Numba backend this is one run, watched
        as it goes and stopped once converged (all chains then run at once, one thread
        each, unless ``cores`` is smaller); otherwise each judgement is a new run, reusing
        the compiled model. Either way a chain's first draws do not depend on how long
        it runs, so the result is reproducible. The draws kept are in
        ``result.spec.sampler.draws``. A given number is used as it is.
    random_seed : int, optional
        The same seed gives identical imputations. If None, one is drawn and recorded in
        ``result.posterior.attrs["random_seed"]``.
    sampler : {"nutpie", "pymc"}, default "nutpie"
        nutpie, or PyMC's own NUTS as a fallback.
    backend : {"numba", "jax"}, optional
        nutpie's backend. Numba compiles in about 15-40 s and then samples about 20 times
        faster than JAX here; JAX compiles in about 2 s (see README, "Backends"). The
        default is Numba, and JAX with ``cluster_covariance="random"``, whose likelihood
        is a PyTensor graph that Numba compiles in minutes.
    cores : int, optional
        Chains run in parallel (default: one per CPU core, at most ``chains``; with
        ``draws=None`` and Numba, ``chains``).
    target_accept : float, optional
        NUTS target acceptance rate; raise it (e.g. 0.95) after divergences. 0.65 for the
        collapsed model with a common covariance, which samples neither random effects
        nor cluster covariances (no funnel), so a larger step size buys longer
        trajectories at the same cost; 0.8 for ``method="latent"`` and
        ``cluster_covariance="random"``. See :func:`jmimpute.spec.model.nuts_defaults`.
    progressbar : bool, optional
        Show progress bars (default True, or the spec's setting).

    Returns
    -------
    Imputation

    Examples
    --------
    >>> import jmimpute as jm
    >>> data = jm.datasets.load_brandsma()
    >>> imp = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1)  # doctest: +SKIP
    >>> imp.summary()  # doctest: +SKIP
    >>> imp.complete(1)  # doctest: +SKIP
    """
    options = {
        "categorical": categorical,
        "ordinal": ordinal,
        "cluster_covariance": cluster_covariance,
        "m": m,
        "method": method,
        "priors": priors,
        "chains": chains,
        "tune": tune,
        "draws": draws,
        "sampler": sampler,
        "backend": backend,
        "cores": cores,
        "target_accept": target_accept,
    }
    if isinstance(formula, ImputationSpec):
        defaults = inspect.signature(impute).parameters
        given = [k for k, v in options.items() if v != defaults[k].default]
        if given:
            raise TypeError(
                f"`formula` is an ImputationSpec, which already fixes {given}; pass them to "
                "jm.specify(...) instead, or give the formula as a string"
            )
        spec = formula
        if progressbar is not None:
            spec = replace(spec, sampler=replace(spec.sampler, progressbar=bool(progressbar)))
    else:
        shown = True if progressbar is None else progressbar
        spec = build_spec(formula, **options, progressbar=shown)
    seed = _seed(random_seed)
    frame, level1, level2 = validate(data, spec)
    design = build_design(frame, spec.level1, level1, spec.level2, level2)
    _check_cluster_covariance(spec, design)
    _log.info(
        "imputing %s in %d rows and %d clusters",
        ", ".join(v.name for v in (*level1, *level2)),
        design.n,
        design.n_clusters,
    )
    fitted = _build(design, spec)
    return _sample(frame.copy(deep=True), (level1, level2), spec, seed, fitted, {})


def _check_cluster_covariance(spec: ImputationSpec, design: Design) -> None:
    """Cluster-specific covariances need continuous level-1 targets (clear error if not)."""
    if spec.cluster_covariance != "random":
        return
    latent = [v.name for v in design.level1.variables if v.latent]
    if latent:
        raise ValueError(
            f"cluster_covariance='random' needs continuous level-1 targets, but {latent} "
            "are categorical: their latent scales are fixed for identification, which a "
            "covariance varying by cluster would undo. Use cluster_covariance='common', or "
            "move the categorical variables to the level-1 covariates if fully observed"
        )


def _build(design: Design, spec: ImputationSpec) -> FittedModel:
    """The PyMC model of ``spec``'s method for ``design`` (compiled when first sampled)."""
    if spec.method == "collapsed":
        random = spec.cluster_covariance == "random"
        model, layout = build_collapsed_model(
            design,
            spec.priors,
            compiled_kernel=not random and _kernel_usable(spec),
            cluster_covariance=spec.cluster_covariance,
        )
    else:
        from jmimpute.models.latent.build import build_latent_model

        model, layout = build_latent_model(design, spec.priors, spec.cluster_covariance)
    return FittedModel(design, model, layout)


def refit(
    imp: Imputation,
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
    """:meth:`Imputation.refit`: sample the same model again, reusing its compiled form."""
    if not isinstance(imp, Imputation):
        raise TypeError(f"expected an Imputation from jm.impute; got {type(imp).__name__}")
    args = spec_arguments(imp.spec)
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
    spec = build_spec(args.pop("formula"), **args)
    seed = imp.posterior.attrs.get("random_seed") if random_seed is None else random_seed
    seed = _seed(seed)
    fitted = imp._fitted
    if fitted is None:  # loaded from a file: build once, then keep for later refits
        fitted = imp._fitted = _build(imp._design(), spec)
    return _sample(imp._data, imp._variables, spec, seed, fitted, dict(imp._derived))


def _sample(
    frame: pd.DataFrame,
    variables: tuple[tuple[Variable, ...], tuple[Variable, ...]],
    spec: ImputationSpec,
    seed: int,
    fitted: FittedModel,
    derived: dict,
) -> Imputation:
    """Sample the built model with ``spec``'s priors and settings; draw the m imputations.

    With ``draws=None`` the draws per chain are decided while sampling (see
    :func:`more_draws`); the result's spec holds the number kept. Warns if not converged.
    """
    design, layout = fitted.design, fitted.layout
    sampler_seed, stream_seed = imputation_seeds(seed)
    run_seed = int(sampler_seed.generate_state(1, dtype=np.uint32)[0])
    priors = prior_values(spec.priors)
    # nutpie's JAX backend freezes shared data into constants, so a JAX-compiled model is
    # reused only with the same priors, a Numba one always
    nutpie = spec.sampler.sampler == "nutpie"
    run = run_sampler(
        fitted.model,
        spec.sampler,
        run_seed,
        var_names=layout.keep,
        compiled=fitted.reusable(spec.sampler.backend, priors) if nutpie else None,
        shared=prior_shared(priors),
        until=_checkpoints(design, spec, layout.judged) if spec.sampler.auto_draws else None,
    )
    if nutpie:
        fitted.compiled, fitted.compiled_with = run.compiled, (spec.sampler.backend, priors)
    draws_s = ParameterDraws.from_trace(run.trace)
    kept = draws_s.beta.shape[1]
    if kept != spec.sampler.draws:
        spec = replace(spec, sampler=replace(spec.sampler, draws=kept))
    chain_idx, draw_idx = retained_draws(spec)
    params = [owned(draws_s.at(c, t)) for c, t in zip(chain_idx, draw_idx, strict=True)]
    streams = list(range(spec.m))
    if spec.method == "collapsed":
        imputations = draw_imputations(
            design,
            params,
            streams,
            layout.l2_masks,
            layout.l2_pattern,
            stream_seed,
            progressbar=spec.sampler.progressbar,
        )
    else:
        from jmimpute.models.latent.build import read_imputation

        imputations = [
            read_imputation(design, run, draws_s.at(c, t), c, t)
            for c, t in zip(chain_idx, draw_idx, strict=True)
        ]
    retained = retained_dataset(params, chain_idx, draw_idx, streams)
    tree = result_tree(spec, design, run, draws_s, imputations, retained, frame.index)
    tree.attrs.update({"random_seed": seed})
    if spec.sampler.auto_draws:
        # benchmarks read these: the draws per chain judged, and the sampler runs behind them
        tree.attrs.update(
            {"draws_tried": ",".join(map(str, run.checkpoints)), "sampler_runs": run.runs}
        )
    result = Imputation(frame, spec, tree, derived, variables=variables, fitted=fitted)
    _check_mixing(result)
    return result


def _checkpoints(design: Design, spec: ImputationSpec, judged: tuple[str, ...]) -> Checkpoints:
    """``draws=None``: judge convergence at checkpoints with :func:`more_draws`."""
    settings = spec.sampler
    # one run judged as it goes, unless the sampler must start a run per checkpoint
    monitored = judged_in_one_run(settings)

    def judge(trace: xr.DataTree) -> int | None:
        draws_s = ParameterDraws.from_trace(trace)
        table = parameter_table(parameter_datasets(design, draws_s)[0])
        drawn = draws_s.beta.shape[1]
        more = more_draws(table, drawn, monitored=monitored)
        if more is not None:
            _log.log(
                logging.INFO if monitored else logging.WARNING,
                "after %d draws per chain the worst R-hat is %.3f (%s) and the smallest "
                "bulk/tail ESS %.0f (%s): %s %d draws per chain (draws=None samples until "
                "R-hat <= %s and ESS >= %d, up to %d draws; pass draws=... for a fixed number)",
                drawn,
                table["r_hat"].max(),
                table["r_hat"].idxmax(),
                table[["ess_bulk", "ess_tail"]].min().min(),
                table[["ess_bulk", "ess_tail"]].min(axis=1).idxmin(),
                "going on to" if monitored else "sampling again with",
                more,
                RHAT_MAX,
                ESS_MIN,
                AUTO_MAX_DRAWS,
            )
        return more

    return Checkpoints(
        first=settings.draws,
        most=max(AUTO_MAX_DRAWS, settings.draws),
        judge=judge,
        names=judged,
    )


def more_draws(table: pd.DataFrame, draws: int, *, monitored: bool = True) -> int | None:
    """Draws per chain at the next checkpoint, or None when converged (or at the cap).

    Converged: every parameter has R-hat <= ``RHAT_MAX`` and bulk and tail ESS >=
    ``ESS_MIN``. Otherwise ESS grows about in proportion to the draws, so the next
    checkpoint is where the draws would reach ``ESS_MIN``, at most ``AUTO_MAX_DRAWS``;
    R-hat shrinks with longer chains too. Within one ``monitored`` run a checkpoint costs
    only a look at the draws: 1.1 times that, at least 200 more draws, rounded up to 100
    (a coarser step would sample draws that the judgement does not need). Where each
    checkpoint is a new run, overshoot rather than run again: 1.5 times that, at least
    twice the draws, rounded up to 500.
    """
    if table["r_hat"].isna().all() or draws >= AUTO_MAX_DRAWS:
        return None  # one chain: convergence cannot be judged
    ess = float(table[["ess_bulk", "ess_tail"]].min().min())
    if table["r_hat"].max() <= RHAT_MAX and ess >= ESS_MIN:
        return None
    reach = draws * ESS_MIN / max(ess, 1.0)
    if monitored:
        want, step = max(draws + 200, 1.1 * reach), 100.0
    else:
        want, step = max(2.0 * draws, 1.5 * reach), 500.0
    return int(min(np.ceil(want / step) * step, AUTO_MAX_DRAWS))


def _seed(random_seed: object) -> int:
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise TypeError(
            f"`random_seed` must be a non-negative integer or None, got {random_seed!r}"
        )
    if random_seed < 0:
        raise ValueError(f"`random_seed` must be a non-negative integer, got {random_seed}")
    return int(random_seed)


def _kernel_usable(spec: ImputationSpec) -> bool:
    """The compiled likelihood Op runs everywhere except JAX without the FFI target."""
    if spec.sampler.sampler == "nutpie" and spec.sampler.backend == "jax":
        from jmimpute._kernels.xla_ffi import ffi_available

        if not ffi_available():
            _log.warning(
                "the XLA FFI target is unavailable; using the slower pure PyTensor likelihood"
            )
            return False
    return True


def _check_mixing(result: Imputation) -> None:
    """Warn when the chains have not converged or mix too slowly for m separated draws."""
    table = result.convergence()
    if table["r_hat"].isna().all():  # one chain: R-hat needs at least two
        msg = (
            f"R-hat cannot be computed from chains={result.spec.sampler.chains}; convergence is "
            "unchecked. Run at least 2 chains (the default is 4) before trusting the imputations."
        )
        _log.warning(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    elif table["r_hat"].max() > RHAT_MAX:
        worst_rhat = table["r_hat"].idxmax()
        msg = (
            f"R-hat of {worst_rhat} is {table['r_hat'].max():.3f} > {RHAT_MAX}: the chains of the "
            "imputation model have not converged. Raise `tune` (and `draws`) and rerun; see "
            "imp.summary()."
        )
        _log.warning(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    ess = table["ess_bulk"].min()
    worst_ess = table["ess_bulk"].idxmin()
    m = result.m
    if not ess >= m:
        total = result.spec.sampler.retained
        needed = int(np.ceil(result.spec.sampler.draws * m / max(ess, 1.0)))
        msg = (
            f"The smallest bulk ESS of the imputation-model parameters is {ess:.0f} ({worst_ess}), "
            f"below m={m}: the m imputations are {total // m} iterations apart but the chains "
            f"need about {total / max(ess, 1.0):.0f} iterations per independent draw, so the "
            f"imputations are not well separated. Raise `draws` to at least {needed} (or lower m)."
        )
        _log.warning(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
