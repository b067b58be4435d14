"""Bayesian analysis of every completed data set with bambi, compiled once.

bambi builds a fresh PyMC model for each data set, with the data as constants, and
compiling it with nutpie takes far longer than sampling it. Here the bambi model is built
for every set (cheap), the constants that differ between sets (the response, the design
columns that hold imputed values, bambi's data-scaled prior parameters) are found by
comparing the graphs, the first set's model is compiled once with those constants turned
into shared data, and each set is sampled by swapping the data
(``nutpie.CompiledModel.with_data``). Sets whose graph differs in structure (say a factor
level absent from one set) are compiled on their own.

The posterior draws of all sets are then mixed (Zhou and Reiter 2010; brms's
``brm_multiple``): one DataTree with an ``imputation`` dimension. R-hat is computed within
each set's chains: the sets' posteriors differ by design, and mixing across them is not a
convergence failure.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from jmimpute.analysis.formula import AnalysisFormula
from jmimpute.analysis.frequentist import coded_response, plain_dtypes
from jmimpute.diagnostics import RHAT_MAX
from jmimpute.pooling import PooledEstimates, pool

if TYPE_CHECKING:
    from jmimpute.analysis.external import CompletedSets
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")
_MODEL_KEYS = {"family", "priors", "link", "categorical", "dropna", "auto_scale", "noncentered"}


def _constants(model: Any) -> tuple[Any, list[Any]]:
    """The model's FunctionGraph and its constants in a deterministic (topological) order."""
    from pymc.model.fgraph import fgraph_from_model
    from pytensor.tensor.variable import TensorConstant

    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    out, seen = [], set()
    for node in fgraph.toposort():
        for inp in node.inputs:
            if isinstance(inp, TensorConstant) and id(inp) not in seen:
                seen.add(id(inp))
                out.append(inp)
    return fgraph, out


def _same_structure(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        x.type == y.type and x.data.shape == y.data.shape for x, y in zip(a, b, strict=True)
    )


def _bambi_pymc_model(data: pd.DataFrame, formula: str, model_kwargs: dict) -> Any:
    import bambi as bmb

    model = bmb.Model(formula, data, **model_kwargs)
    model.build()
    return model.backend.model


def _shared_model(model: Any, varying: list[int]) -> Any:
    """The model with the constants at ``varying`` replaced by named shared variables."""
    import pytensor
    from pymc.model.fgraph import model_from_fgraph

    fgraph, consts = _constants(model)
    replacements = [
        (consts[i], pytensor.shared(consts[i].data, name=f"jm_data_{i}")) for i in varying
    ]
    fgraph.replace_all(replacements, import_missing=True)
    return model_from_fgraph(fgraph, mutate_fgraph=True)


def _compile(model: Any, var_names: list[str]) -> Any:
    import warnings

    import nutpie

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        return nutpie.compile_pymc_model(model, backend="numba", var_names=var_names)


def _kept_variables(model: Any) -> list[str]:
    """Free variables and the deterministics that are not per-row (bambi's ``mu``)."""
    n_rows = None
    for rv in model.observed_RVs:
        n_rows = int(np.prod(model.rvs_to_values[rv].type.shape or (0,)) or 0) or None
    names = [v.name for v in model.free_RVs]
    for det in model.deterministics:
        shape = det.type.shape
        if not (shape and n_rows is not None and shape[0] == n_rows):
            names.append(det.name)
    return names


@dataclass(frozen=True)
class BayesianTiming:
    """Wall times of a Bayesian analysis (seconds)."""

    compile_seconds: float
    sampling_seconds: float
    compiled_models: int


def fit_bambi(
    imp: Imputation | CompletedSets,
    formula: AnalysisFormula,
    *,
    progressbar: bool = True,
    compile_once: bool = True,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int | None = None,
    random_seed: int | None = None,
    target_accept: float = 0.8,
    **model_kwargs: Any,
) -> BayesianFits:
    """Fit a bambi model to every completed set; see the module docstring.

    Parameters
    ----------
    imp : Imputation or CompletedSets
        jmimpute's imputations, or completed sets made elsewhere.
    formula : AnalysisFormula
    progressbar : bool
    compile_once : bool, default True
        False compiles each set's model on its own (for comparison).
    draws, tune, chains, cores, random_seed, target_accept
        nutpie's NUTS settings, per imputed set.
    **model_kwargs
        Passed to ``bambi.Model`` (``family``, ``priors``, ...).

    Returns
    -------
    BayesianFits
    """
    import nutpie

    unknown = set(model_kwargs) - _MODEL_KEYS
    if unknown:
        raise TypeError(
            f"unexpected arguments for the bambi backend: {sorted(unknown)}; bambi.Model takes "
            f"{sorted(_MODEL_KEYS)} and the sampler takes draws, tune, chains, cores, "
            "random_seed, target_accept"
        )
    text = formula.text.replace("factor(", "C(")
    columns = list(formula.variables)
    family = model_kwargs.get("family", "gaussian")
    binary = str(getattr(family, "name", family)) in ("bernoulli", "binomial")
    sets = [plain_dtypes(imp.complete(k)[columns]) for k in range(1, imp.m + 1)]
    if binary:  # the second category the event, as R's glm (bambi takes the first)
        sets = [coded_response(formula, d) for d in sets]
    models = [_bambi_pymc_model(d, text, model_kwargs) for d in sets]
    consts = [_constants(mod)[1] for mod in models]

    same = [_same_structure(consts[0], c) for c in consts]
    varying = sorted(
        {
            i
            for c, ok in zip(consts, same, strict=True)
            if ok
            for i, (a, b) in enumerate(zip(consts[0], c, strict=True))
            if not np.array_equal(a.data, b.data)
        }
    )
    names = _kept_variables(models[0])
    seeds = np.random.SeedSequence(random_seed).generate_state(imp.m, dtype=np.uint32)
    compile_s = sample_s = 0.0
    compiled_models = 0
    base = None
    traces = []
    for k in tqdm(range(imp.m), desc="bambi fits", disable=not progressbar, leave=False):
        start = time.perf_counter()
        if compile_once and same[k]:
            if base is None:
                base = _compile(_shared_model(models[0], varying), names)
                compiled_models += 1
            compiled = base.with_data(**{f"jm_data_{i}": consts[k][i].data for i in varying})
        else:
            if not same[k]:
                _log.warning(
                    "imputed set %d gives a differently shaped model; compiling it alone", k + 1
                )
            compiled = _compile(models[k], names)
            compiled_models += 1
        mid = time.perf_counter()
        trace = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores or chains,
            seed=int(seeds[k]),
            target_accept=target_accept,
            progress_bar=False,
            save_warmup=False,
        )
        sample_s += time.perf_counter() - mid
        compile_s += mid - start
        traces.append(trace)
    posterior = xr.concat(
        [t["posterior"].to_dataset() for t in traces],
        dim=pd.Index(np.arange(1, imp.m + 1), name="imputation"),
    )
    stats = xr.concat(
        [t["sample_stats"].to_dataset() for t in traces],
        dim=pd.Index(np.arange(1, imp.m + 1), name="imputation"),
    )
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    timing = BayesianTiming(compile_s, sample_s, compiled_models)
    tree.attrs.update(
        {"formula": formula.text, "compile_seconds": compile_s, "sampling_seconds": sample_s}
    )
    return BayesianFits(formula, tree, timing)


def _tidy(name: str) -> str:
    from jmimpute.analysis.frequentist import tidy_name

    return tidy_name(name)


class BayesianFits:
    """Posterior draws of the analysis model on every imputed set, mixed.

    Attributes
    ----------
    posterior : xarray.DataTree
        ``posterior`` and ``sample_stats`` with dims ``(imputation, chain, draw, ...)``.
    timing : BayesianTiming
    """

    def __init__(
        self, formula: AnalysisFormula, posterior: xr.DataTree, timing: BayesianTiming
    ) -> None:
        self.formula = formula
        self.posterior = posterior
        self.timing = timing

    @property
    def m(self) -> int:
        """Number of imputed sets."""
        return int(self.posterior["posterior"].sizes["imputation"])

    def __len__(self) -> int:
        return self.m

    def __getitem__(self, i: int) -> xr.Dataset:
        """The posterior of imputed set ``i`` (0-based)."""
        return self.posterior["posterior"].to_dataset().isel(imputation=i)

    def _scalar_draws(self) -> dict[str, xr.DataArray]:
        """Fixed effects, variance components and ICC as draws (imputation, chain, draw)."""
        post = self.posterior["posterior"].to_dataset()
        out: dict[str, xr.DataArray] = {}
        group = self.formula.group
        sd_names = []
        for name, da in post.data_vars.items():
            extra = [d for d in da.dims if d not in ("imputation", "chain", "draw")]
            if str(name).endswith("_offset") or (group and str(name) == f"1|{group}"):
                continue
            if group and str(name).endswith(f"|{group}") and extra:
                continue  # per-cluster effects
            if not extra:
                if str(name).endswith("_sigma") and "|" in str(name):
                    term = str(name).split("|")[0]
                    out[f"tau[{_tidy(term if term != '1' else 'Intercept')}]"] = da**2
                    sd_names.append(name)
                elif str(name) == "sigma":
                    out["sigma2"] = da**2
                else:
                    out[_tidy(str(name))] = da
            elif len(extra) == 1:
                for level in da[extra[0]].to_numpy():
                    out[_tidy(f"{name}[{level}]")] = da.sel({extra[0]: level}, drop=True)
        if "tau[(Intercept)]" in out and "sigma2" in out:
            out["ICC"] = out["tau[(Intercept)]"] / (out["tau[(Intercept)]"] + out["sigma2"])
        return out

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        """Posterior summaries from the mixed draws of all sets.

        Returns
        -------
        pandas.DataFrame
            ``mean``, ``sd``, equal-tailed interval bounds and the largest within-set R-hat.
        """
        rhat = self.rhat().max(axis=0)
        rows = []
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        for name, da in self._scalar_draws().items():
            values = da.to_numpy().ravel()
            rows.append(
                {
                    "parameter": name,
                    "mean": values.mean(),
                    "sd": values.std(ddof=1),
                    f"eti_{lo:.3g}": np.quantile(values, lo),
                    f"eti_{hi:.3g}": np.quantile(values, hi),
                    "max_r_hat_within_sets": rhat.get(name, np.nan),
                }
            )
        return pd.DataFrame(rows).set_index("parameter")

    def rhat(self) -> pd.DataFrame:
        """Rank-normalised R-hat of each parameter within each set's chains (sets x parameters)."""
        from arviz_stats.base import array_stats

        table = {}
        for name, da in self._scalar_draws().items():
            values = da.transpose("imputation", "chain", "draw").to_numpy()
            table[name] = [float(array_stats.rhat(v, chain_axis=0, draw_axis=1)) for v in values]
        return pd.DataFrame(table, index=pd.Index(range(1, self.m + 1), name="imputation"))

    def converged(self) -> bool:
        """Whether every set's chains reached R-hat <= 1.01 for every parameter."""
        return bool((self.rhat().to_numpy() <= RHAT_MAX).all())

    def rubin(self) -> PooledEstimates:
        """Rubin's rules on each set's posterior mean and variance of the fixed effects."""
        draws = {
            k: v
            for k, v in self._scalar_draws().items()
            if not k.startswith(("tau[", "sigma2", "ICC"))
        }
        means = pd.DataFrame({k: v.mean(("chain", "draw")).to_numpy() for k, v in draws.items()})
        variances = np.stack(
            [v.var(("chain", "draw"), ddof=1).to_numpy() for v in draws.values()], axis=1
        )
        return pool(means, variances)

    def __repr__(self) -> str:
        t = self.timing
        return (
            f"<BayesianFits: {self.formula.text!r} on {self.m} imputed sets, "
            f"{t.compiled_models} compiled model(s), compile {t.compile_seconds:.1f} s, "
            f"sampling {t.sampling_seconds:.1f} s>"
        )

    def _repr_html_(self) -> str:
        return (
            f"<h4>Bayesian analysis, mixed draws of {self.m} imputed sets: "
            f"<code>{html.escape(self.formula.text)}</code></h4>"
            + self.summary().to_html(float_format="{:.4g}".format)
        )
