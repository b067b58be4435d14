"""The imputation specification: formulas, priors, method and sampler settings.

:func:`build_spec` checks every argument that can be checked without the data and
returns frozen dataclasses; :mod:`jmimpute.spec.validate` checks them against the data.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jmimpute.spec.formula import Formula, parse_formula
from jmimpute.spec.priors import Priors

METHODS: tuple[str, ...] = (
    "collapsed",
    "latent",
    "substantive",
    "substantive_sampled",
    "augmented",
)
"""The imputation models (``method``); each is registered under its name in
:data:`jmimpute.models.MODELS` (a test holds the two to the same names). ``"substantive"``
is chosen by giving ``analysis`` (its formulas are derived from it); ``"substantive_sampled"``
(its random effects sampled, the reference) by ``analysis`` and ``method`` together."""
SUBSTANTIVE: tuple[str, ...] = ("substantive", "substantive_sampled")
"""The methods of the substantive model, the ones that take ``analysis``."""
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
BACKENDS: tuple[str, ...] = ("numba", "jax")
COVARIANCES: tuple[str, ...] = ("common", "random")
# draws=None: the first run's draws per chain (more follow only if it has not converged)
AUTO_FIRST_DRAWS = 1000
NUTS_DEFAULTS: dict[tuple[str, str], tuple[int, float]] = {
    ("collapsed", "common"): (500, 0.65),
    ("augmented", "common"): (500, 0.65),
}
"""Warm-up iterations and target acceptance rate by (method, cluster covariance), where they
differ from PyMC's and Stan's :data:`NUTS_FALLBACK` (see :func:`nuts_defaults`)."""
NUTS_FALLBACK = (1000, 0.8)
BACKEND_DEFAULTS: dict[str, str] = {"common": "numba", "random": "jax"}
"""nutpie's backend by cluster covariance (see :func:`default_backend`)."""


@dataclass(frozen=True)
class SamplerSettings:
    """How NUTS is run.

    Attributes
    ----------
    chains, tune, draws : int
        Chains, warm-up iterations and retained draws per chain (with ``auto_draws``, the
        draws of the first run; the result's spec holds those of the run kept).
    sampler : {"nutpie", "pymc"}
        nutpie (default) or PyMC's own NUTS.
    backend : {"numba", "jax"}
        nutpie's compilation backend (ignored by the PyMC sampler).
    cores : int or None
        Chains run in parallel; None picks a sensible number for the backend.
    target_accept : float
        NUTS target acceptance rate. This class's defaults for it and ``tune`` (1000, 0.8)
        are PyMC's; :func:`build_spec` fills in the model's own (:func:`nuts_defaults`).
    progressbar : bool
        Show progress bars.
    auto_draws : bool
        ``draws`` was not given: if the first run has not converged, sample again with
        more draws (see :func:`jmimpute.impute`).
    """

    chains: int = 4
    tune: int = 1000
    draws: int = 1000
    sampler: str = "nutpie"
    backend: str = "numba"
    cores: int | None = None
    target_accept: float = 0.8
    progressbar: bool = True
    auto_draws: bool = False

    @property
    def retained(self) -> int:
        """Total retained draws over all chains."""
        return self.chains * self.draws


@dataclass(frozen=True)
class ImputationSpec:
    """Everything :func:`jmimpute.impute` was asked to do, validated.

    Attributes
    ----------
    level1 : Formula
        The level-1 formula, with its random term and cluster variable.
    level2 : Formula or None
        The level-2 formula: cluster-level targets and fully observed cluster-level
        covariates, modelled jointly with the level-1 random effects.
    categorical, ordinal : tuple of str
        Targets declared unordered categorical (binary or nominal) or ordinal; pandas
        ``category`` and ``bool`` columns are categorical without declaration.
    cluster_covariance : {"common", "random"}
        One level-1 covariance ``Sigma`` for all clusters, or cluster-specific ``Sigma_j``
        varying around it (jomo's ``meth = "random"``).
    m : int
        Number of imputations.
    method : str
        A key of :data:`jmimpute.models.MODELS` (:data:`METHODS`): ``"collapsed"``
        integrates the random effects and missing cells out of the NUTS target and draws
        them exactly afterwards; ``"latent"`` samples them with NUTS; ``"augmented"``
        draws categorical latents between NUTS steps on the parameters.
    auto_method : bool
        ``method`` was not given: :func:`jmimpute.models.choice.choose_method` chose it
        from the data (``"collapsed"``, or ``"augmented"`` where the collapsed model's
        store of latents would be large); ``method`` holds the choice once made.
    priors : Priors
    sampler : SamplerSettings
    analysis : str or None
        The analysis formula of the substantive model (``method="substantive"``), from
        which ``level1`` and ``level2`` were derived.
    auxiliary : tuple of str
        The substantive model's auxiliary variables.
    cluster_means : {"latent", "observed"}
        How the substantive model computes ``mean(x)`` and ``cwc(x)`` of an incomplete
        predictor.
    """

    level1: Formula
    level2: Formula | None = None
    categorical: tuple[str, ...] = ()
    ordinal: tuple[str, ...] = ()
    cluster_covariance: str = "common"
    m: int = 10
    method: str = "collapsed"
    auto_method: bool = False
    priors: Priors = field(default_factory=Priors)
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    analysis: str | None = None
    auxiliary: tuple[str, ...] = ()
    cluster_means: str = "latent"

    @property
    def cluster(self) -> str:
        """The cluster variable."""
        assert self.level1.cluster is not None  # guaranteed by build_spec
        return self.level1.cluster

    @property
    def targets(self) -> tuple[str, ...]:
        """The incomplete level-1 variables."""
        return self.level1.targets

    @property
    def level2_targets(self) -> tuple[str, ...]:
        """The incomplete level-2 variables."""
        return self.level2.targets if self.level2 is not None else ()

    @property
    def formula_text(self) -> str:
        """The formula(s) as written (the analysis formula of the substantive model)."""
        if self.analysis is not None:
            return self.analysis
        if self.level2 is None:
            return self.level1.text
        return f"[{self.level1.text!r}, {self.level2.text!r}]"


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer >= {minimum}, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}")
    return int(value)


def _choice(name: str, value: object, options: Sequence[str], hint: str = "") -> str:
    if value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ValueError(f"`{name}` must be one of {valid}; got {value!r}{hint}")
    return str(value)


def _formulas(formula: object) -> tuple[Formula, Formula | None]:
    """The level-1 formula and the optional level-2 formula (mitml's list form)."""
    if isinstance(formula, str):
        items: list[object] = [formula]
    elif isinstance(formula, Sequence):
        items = list(formula)
    else:
        raise TypeError(
            "`formula` must be a string such as 'lpo + iqv ~ 1 + (1|sch)' or a list of a "
            "level-1 and a level-2 formula such as ['lpo + iqv ~ 1 + (1|sch)', 'den ~ 1']; "
            f"got {type(formula).__name__}: {formula!r}"
        )
    if not 1 <= len(items) <= 2 or not all(isinstance(f, str) for f in items):
        raise ValueError(
            "`formula` as a list holds the level-1 formula and optionally one level-2 formula, "
            f"as strings; got {formula!r}"
        )
    level1 = parse_formula(str(items[0]))
    if not level1.has_random:
        raise ValueError(
            f"`formula` {level1.text!r} has no random term naming the cluster variable; "
            f"add one, for example '{level1.text} + (1|cluster)'"
        )
    level2 = parse_formula(str(items[1])) if len(items) == 2 else None
    if level2 is not None:
        if level2.has_random:
            raise ValueError(
                f"the level-2 formula {level2.text!r} must not have a random term: level-2 "
                "variables are modelled jointly with the level-1 random effects, e.g. 'den ~ 1'"
            )
        both = set(level1.targets) & set(level2.targets)
        if both:
            raise ValueError(
                f"{sorted(both)} appear as targets in both the level-1 and the level-2 formula"
            )
    return level1, level2


def _names(arg: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"`{arg}` must be a list of column names; got {value!r}")
    return tuple(dict.fromkeys(value))


def build_spec(
    formula: object,
    *,
    categorical: object = None,
    ordinal: object = None,
    cluster_covariance: object = "common",
    m: object = 10,
    method: object = None,
    priors: object = None,
    chains: object = 4,
    tune: object = None,
    draws: object = None,
    sampler: object = "nutpie",
    backend: object = None,
    cores: object = None,
    target_accept: object = None,
    progressbar: object = True,
    analysis: object = None,
    auxiliary: object = None,
    cluster_means: object = "latent",
) -> ImputationSpec:
    """Check the arguments of :func:`jmimpute.impute` that do not need the data.

    Returns
    -------
    ImputationSpec

    Raises
    ------
    TypeError, ValueError
        Naming the argument, the value received and what is expected.
    """
    level1, level2 = _formulas(formula)
    cat_names = _names("categorical", categorical)
    ord_names = _names("ordinal", ordinal)
    overlap = set(cat_names) & set(ord_names)
    if overlap:
        raise ValueError(f"{sorted(overlap)} are declared both categorical and ordinal")
    targets = set(level1.targets) | set(level2.targets if level2 else ())
    stray = [n for n in (*cat_names, *ord_names) if n not in targets]
    if stray and analysis is None:  # the substantive model's predictors may be declared
        raise ValueError(
            f"`categorical`/`ordinal` name {stray}, which are not targets of `formula`; "
            "declare only variables to impute (categorical covariates need no declaration)"
        )
    if priors is None:
        priors = Priors()
    if not isinstance(priors, Priors):
        raise TypeError(
            f"`priors` must be a jmimpute.Priors, got {type(priors).__name__}; "
            "for example priors=jm.Priors(psi_sd=0.5)"
        )
    covariance = _choice("cluster_covariance", cluster_covariance, COVARIANCES)
    # None: the substantive model with `analysis`; otherwise chosen from the data once it is
    # read (jmimpute.models.choice), until then the default model, whose NUTS settings the
    # choice keeps (a test holds them equal)
    if method is None:
        method_name = "substantive" if analysis is not None else "collapsed"
    else:
        method_name = _choice(
            "method", method, METHODS, "; or leave it out, and jmimpute chooses from the data"
        )
    if (method_name in SUBSTANTIVE) != (analysis is not None):
        raise ValueError(
            "the substantive model is chosen by giving `analysis` (an analysis formula), and "
            f"only then; got method={method_name!r} and analysis={analysis!r}"
        )
    if analysis is not None and not isinstance(analysis, str):
        raise TypeError(f"`analysis` must be a formula string, got {analysis!r}")
    means = _choice("cluster_means", cluster_means, ("latent", "observed"))
    default_tune, default_accept = nuts_defaults(method_name, covariance)
    tune = default_tune if tune is None else tune
    target_accept = default_accept if target_accept is None else target_accept
    n_chains = _positive_int("chains", chains)
    n_draws = AUTO_FIRST_DRAWS if draws is None else _positive_int("draws", draws)
    n_tune = _positive_int("tune", tune, minimum=0)
    n_m = _positive_int("m", m)
    if n_m > n_chains * n_draws:
        raise ValueError(
            f"`m`={n_m} imputations need at least as many retained draws, but chains * draws "
            f"= {n_chains} * {n_draws} = {n_chains * n_draws}; raise `draws` to at least "
            f"{-(-n_m // n_chains)} or lower `m`"
        )
    n_cores = None if cores is None else _positive_int("cores", cores)
    if isinstance(target_accept, bool) or not isinstance(target_accept, numbers.Real):
        raise TypeError(f"`target_accept` must be a number in (0, 1), got {target_accept!r}")
    if not 0.0 < float(target_accept) < 1.0:
        raise ValueError(f"`target_accept` must lie in (0, 1), got {target_accept}")
    settings = SamplerSettings(
        chains=n_chains,
        tune=n_tune,
        draws=n_draws,
        sampler=_choice("sampler", sampler, SAMPLERS),
        backend=_choice("backend", default_backend(cluster_covariance, backend), BACKENDS),
        cores=n_cores,
        target_accept=float(target_accept),
        progressbar=bool(progressbar),
        auto_draws=draws is None,
    )
    return ImputationSpec(
        level1=level1,
        level2=level2,
        categorical=cat_names,
        ordinal=ord_names,
        cluster_covariance=covariance,
        m=n_m,
        method=method_name,
        auto_method=method is None and analysis is None,
        priors=priors,
        sampler=settings,
        analysis=analysis,
        auxiliary=_names("auxiliary", auxiliary),
        cluster_means=means,
    )


def default_backend(cluster_covariance: object, backend: object) -> object:
    """The nutpie backend: as given, else Numba, or JAX for cluster-specific covariances.

    The common-covariance model's likelihood is one compiled Op, which Numba samples
    fastest. The cluster-specific model is a PyTensor graph that Numba takes minutes to
    compile and JAX seconds (``python benchmarks/bench_backends.py`` compares them).
    """
    if backend is not None:
        return backend
    return BACKEND_DEFAULTS.get(str(cluster_covariance), "numba")


def nuts_defaults(method: str, cluster_covariance: str) -> tuple[int, float]:
    """Default warm-up iterations and target acceptance rate for the model sampled.

    The collapsed model with a common covariance samples no random effects and no
    cluster covariances, so its posterior has no funnel: it takes a target acceptance rate
    of 0.65, near the optimum for HMC in many dimensions (Beskos et al. 2013), and 500
    warm-up iterations. On hsb its draws take as many leapfrog steps at either rate, so the
    larger step size buys longer trajectories (``python benchmarks/bench_tune.py`` compares
    the settings). The augmented model's NUTS target is the same collapsed likelihood, of
    the data completed by its latents, and takes the same settings (compared in
    benchmarks/README.md, "Categorical targets at scale"). The models
    that sample random effects (``method="latent"``) or cluster
    covariances keep PyMC's and Stan's 1000 and 0.8.
    """
    return NUTS_DEFAULTS.get((method, cluster_covariance), NUTS_FALLBACK)


def spec_arguments(spec: ImputationSpec) -> dict[str, object]:
    """The arguments of :func:`build_spec` that give ``spec`` back."""
    formula: str | list[str] = spec.level1.text
    if spec.level2 is not None:
        formula = [spec.level1.text, spec.level2.text]
    return {
        "formula": formula,
        "categorical": list(spec.categorical),
        "ordinal": list(spec.ordinal),
        "cluster_covariance": spec.cluster_covariance,
        "m": spec.m,
        "method": None if spec.auto_method else spec.method,
        "priors": spec.priors,
        "chains": spec.sampler.chains,
        "tune": spec.sampler.tune,
        "draws": None if spec.sampler.auto_draws else spec.sampler.draws,
        "sampler": spec.sampler.sampler,
        "backend": spec.sampler.backend,
        "cores": spec.sampler.cores,
        "target_accept": spec.sampler.target_accept,
        "progressbar": spec.sampler.progressbar,
        "analysis": spec.analysis,
        "auxiliary": list(spec.auxiliary),
        "cluster_means": spec.cluster_means,
    }


def check_seed(random_seed: object) -> int:
    """A non-negative integer seed; a new random one for None.

    Parameters
    ----------
    random_seed : object
        What the user passed as ``random_seed``.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        Naming ``random_seed`` and the value received.
    """
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise TypeError(
            f"`random_seed` must be a non-negative integer or None, got {random_seed!r}"
        )
    if random_seed < 0:
        raise ValueError(f"`random_seed` must be a non-negative integer, got {random_seed}")
    return int(random_seed)


def specify(formula: str | list[str], **options: object) -> ImputationSpec:
    """An imputation model and its settings, checked without the data.

    For running the same model on several data sets, or handing a model to
    :func:`jmimpute.sensitivity`: ``jm.impute(data, spec)`` runs it.

    Parameters
    ----------
    formula : str or list of str
        As in :func:`jmimpute.impute`.
    **options
        Any keyword argument of :func:`jmimpute.impute` except ``data`` and
        ``random_seed`` (``categorical``, ``m``, ``priors``, ``draws``, ...).

    Returns
    -------
    ImputationSpec

    Raises
    ------
    TypeError, ValueError
        Naming the argument, the value received and what is expected.

    Examples
    --------
    >>> spec = specify("lpo + iqv ~ 1 + (1|sch)", m=20)
    >>> spec.targets
    ('lpo', 'iqv')
    """
    allowed = set(inspect.signature(build_spec).parameters) - {"formula"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"specify() got unknown options {unknown}; it takes {sorted(allowed)} (the seed "
            "goes to jm.impute(data, spec, random_seed=...))"
        )
    return build_spec(formula, **options)
