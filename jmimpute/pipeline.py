"""``impute``: data in, an imputation model sampled with NUTS, m completed data sets out.

The data go down the layers once: the specification (:mod:`jmimpute.spec`), checked
against the data; the numeric design (:mod:`jmimpute.design`); the model chosen by
``method`` (:mod:`jmimpute.models`), built; one run (:mod:`jmimpute.sampling.run`); the
result (:mod:`jmimpute.results`).
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import replace

import pandas as pd

from jmimpute.models import model_for
from jmimpute.models.choice import choose_method
from jmimpute.results.imputation import Imputation
from jmimpute.sampling.run import sample
from jmimpute.spec.formula import parse_formula
from jmimpute.spec.model import SUBSTANTIVE, ImputationSpec, _names, build_spec, check_seed
from jmimpute.spec.priors import Priors
from jmimpute.spec.validate import validate

_log = logging.getLogger("jmimpute")


def impute(
    data: pd.DataFrame,
    formula: str | list[str] | ImputationSpec | None = None,
    *,
    analysis: str | None = None,
    auxiliary: list[str] | None = None,
    cluster_means: str = "latent",
    categorical: list[str] | None = None,
    ordinal: list[str] | None = None,
    cluster_covariance: str = "common",
    m: int = 10,
    method: str | None = None,
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
    analysis : str, optional
        Instead of ``formula``: the analysis model, lme4-style with one random term, from
        which a substantive-model-compatible imputation model is derived
        (``method="substantive"``; docs/design/substantive-model.md), e.g.
        ``"lpo ~ iqv * ses + mean(iqv) + (1 + iqv | sch)"``. Its terms: columns,
        interactions (``x:z``, ``x*z``, across levels too), powers (``I(x**2)``), cluster
        means ``mean(x)`` and centring within cluster ``cwc(x)`` of level-1 predictors,
        ``factor(x)``; random slopes of level-1 predictors. The outcome must be
        continuous; incomplete predictors continuous or categorical, at level 1 or 2
        (declared ``categorical``/``ordinal`` or of a categorical dtype; summed over
        inside the sampler, at most ``MAX_COMBINATIONS`` combinations of their
        categories, :mod:`jmimpute.models.substantive.structure`).
        The analysis model's posterior is in ``result.posterior`` (``beta``, ``tau``, ``sigma2``;
        :meth:`Imputation.model_estimates`).
    auxiliary : list of str, optional
        With ``analysis``: variables left out of the analysis that carry the missingness
        mechanism; each is modelled given the outcome and the incomplete predictors.
    cluster_means : {"latent", "observed"}, default "latent"
        With ``analysis``: ``mean(x)`` and ``cwc(x)`` of an incomplete predictor use the
        covariate model's latent cluster mean (Blimp's ``x.mean``), or the mean of the
        cluster's completed rows (FIMD's ``2l.groupmean``). A fully observed predictor's
        cluster mean is its observed mean either way.
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
    method : str, optional
        One of ``"collapsed"``, ``"latent"``, ``"substantive"``,
        ``"substantive_sampled"``, ``"augmented"``. If not given: ``"substantive"`` with
        ``analysis``; otherwise ``"collapsed"``, or ``"augmented"`` where the collapsed
        model would store more than
        :data:`~jmimpute.models.choice.AUGMENTED_ABOVE_GB` (4 GB) of categorical latent
        values and the augmented model can impute the targets
        (:mod:`jmimpute.models.choice`; the log says which, and ``imp.spec.method``
        records it).
        ``"collapsed"`` integrates random effects and missing cells out of the NUTS
        target (cost independent of the number of rows) and draws them exactly
        afterwards; ``"latent"`` samples them with NUTS (the slower reference). With
        ``analysis``: ``"substantive"`` (implied) integrates the analysis model's random
        effects, ``"substantive_sampled"`` samples them (the reference).
        ``"augmented"`` (level-1 binary and nominal targets, large data): NUTS moves the
        parameters only and the categories' latent values are drawn exactly between its
        steps, so that neither memory nor a gradient grows with the rows; the same
        posterior as ``"collapsed"``, fewer effective draws per draw. On small data
        ``"collapsed"`` is usually faster: this sampler takes its NUTS steps in Python,
        one transition at a time, where nutpie's run compiled, and its Gibbs steps mix
        more slowly.
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
        ``result.tree.attrs["random_seed"]``.
    sampler : {"nutpie", "pymc"}, default "nutpie"
        nutpie, or PyMC's own NUTS as a fallback.
    backend : {"numba", "jax"}, optional
        nutpie's backend. Numba compiles more slowly than JAX and then samples much faster
        (``python benchmarks/bench_impute.py`` compares them; benchmarks/README.md,
        "Backends"); its compiled models are kept on disk and in the process and serve
        other data of the same structure, so it compiles once per structure on a machine
        (docs/architecture.md, "Compile once"). The default is Numba, and JAX with
        ``cluster_covariance="random"``, whose likelihood is a PyTensor graph that Numba
        compiles in minutes.
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
    options: dict[str, object] = {
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
    if analysis is not None or formula is None:
        formula, options = _substantive(data, formula, analysis, auxiliary, cluster_means, options)
    if isinstance(formula, ImputationSpec):
        defaults = inspect.signature(impute).parameters
        given = [k for k, v in options.items() if v != defaults[k].default]
        if given:
            raise TypeError(
                f"`formula` is an ImputationSpec, which already fixes {given}; pass them to "
                "jm.specify(...) instead, or give the formula as a string"
            )
        spec = formula
        if spec.analysis is not None:  # its layout depends on the data: derived for these
            spec = _relaid(data, spec)
        if progressbar is not None:
            spec = replace(spec, sampler=replace(spec.sampler, progressbar=bool(progressbar)))
    else:
        shown = True if progressbar is None else progressbar
        spec = build_spec(formula, **options, progressbar=shown)
    seed = check_seed(random_seed)
    frame, level1, level2 = validate(data, spec)
    design = model_for(spec.method).design(frame, spec, level1, level2)
    spec = choose_method(spec, design)
    model = model_for(spec.method)
    model.check(design, spec)
    _log.info(
        "imputing %s in %d rows and %d clusters",
        ", ".join(v.name for v in (*level1, *level2)),
        design.n,
        design.n_clusters,
    )
    begun = time.perf_counter()
    try:
        built = model.build(design, spec)
        sampled = sample(model, built, spec, seed)
    except KeyboardInterrupt as interrupt:
        _interrupted(interrupt, time.perf_counter() - begun)
        raise
    return Imputation.from_sampled(
        frame.copy(deep=True), (level1, level2), seed, model, built, sampled, {}
    )


def _interrupted(interrupt: KeyboardInterrupt, seconds: float) -> None:
    """Say that Ctrl-C stopped the run and that nothing of it is kept.

    The samplers have stopped their threads before the interrupt reaches here
    (:mod:`jmimpute.sampling.nuts`, :mod:`jmimpute.sampling.blocked`); nutpie and PyMC
    would otherwise hand back the draws made so far, which must not pass for a whole
    run. The message goes into the exception, which the user sees: jmimpute's logger has
    no handler unless the user adds one.
    """
    detail = f" ({interrupt})" if str(interrupt) else ""
    message = (
        f"interrupted: jm.impute stopped after {seconds:.1f} s{detail}; sampling has "
        "stopped, its threads with it, and no result was made (a partial run is not kept): "
        "nothing was returned or written. Call jm.impute again to start over"
    )
    _log.warning("%s", message)
    interrupt.args = (message,)


def _substantive(
    data: pd.DataFrame,
    formula: object,
    analysis: object,
    auxiliary: list[str] | None,
    cluster_means: str,
    options: dict[str, object],
) -> tuple[list[str], dict[str, object]]:
    """The joint layout formulas and options of the substantive model ``analysis`` asks for."""
    if analysis is None:
        raise TypeError(
            "give the imputation model: `formula` (the joint model, e.g. "
            "'lpo + iqv ~ 1 + (1|sch)') or `analysis` (the analysis model, e.g. "
            "'lpo ~ iqv + (1 + iqv|sch)')"
        )
    if formula is not None:
        raise TypeError(
            "give either `formula` (the joint model) or `analysis` (the substantive model "
            "derived from the analysis formula), not both"
        )
    method = "substantive" if options["method"] is None else options["method"]
    if method not in SUBSTANTIVE:
        raise ValueError(
            f"`analysis` chooses method='substantive' (or 'substantive_sampled', its random "
            f"effects sampled); method={options['method']!r} cannot be combined with it"
        )
    declared = (
        *_names("categorical", options["categorical"]),
        *_names("ordinal", options["ordinal"]),
    )
    names = _names("auxiliary", auxiliary)
    formulas = _layout(data, str(analysis), names, declared, cluster_means)
    options = options | {
        "method": method,
        "analysis": analysis,
        "auxiliary": list(names),
        "cluster_means": cluster_means,
    }
    return formulas, options


def _layout(
    data: pd.DataFrame,
    analysis: str,
    auxiliary: tuple[str, ...],
    categorical: tuple[str, ...],
    cluster_means: str,
) -> list[str]:
    """The joint-model formulas that lay out what ``analysis`` imputes in ``data``.

    Reading the formula against the data also refuses, with its error, what the
    substantive model cannot build, before anything else is done.
    """
    from jmimpute.models.substantive.structure import derive_structure
    from jmimpute.spec.validate import check_data_frame

    structure = derive_structure(
        analysis,
        check_data_frame(data),
        auxiliary=auxiliary,
        categorical=categorical,
        cluster_means=cluster_means,
    )
    return structure.imputation_formulas()


def _relaid(data: pd.DataFrame, spec: ImputationSpec) -> ImputationSpec:
    """A substantive spec with the imputation formulas ``data`` gives its analysis formula."""
    assert spec.analysis is not None
    formulas = _layout(
        data,
        spec.analysis,
        spec.auxiliary,
        (*spec.categorical, *spec.ordinal),
        spec.cluster_means,
    )
    level2 = parse_formula(formulas[1]) if len(formulas) > 1 else None
    return replace(spec, level1=parse_formula(formulas[0]), level2=level2)
