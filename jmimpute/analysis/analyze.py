"""``analyze``: fit one analysis model to every completed data set."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from jmimpute.analysis.derive import (
    ClusterStatistic,
    DeriveFunction,
    cluster_centre,
    cluster_mean,
)
from jmimpute.analysis.fits import AnalysisFits
from jmimpute.analysis.formula import AnalysisFormula, cluster_terms, parse_analysis_formula
from jmimpute.analysis.frequentist import check_response, fit_statsmodels, plain_dtypes
from jmimpute.spec.parser import parse_terms

if TYPE_CHECKING:
    from jmimpute.analysis.bayesian import BayesianFits
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")
BACKENDS = ("statsmodels", "bambi")


class AnalysisError(RuntimeError):
    """The analysis model could not be fitted to some imputed data sets (named by number)."""


def _check_variables(formula: AnalysisFormula, imp: Imputation) -> None:
    columns = [str(c) for c in imp.data.columns] + list(imp.derived)
    for name in formula.variables:
        if name in columns:
            continue
        close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"the analysis formula {formula.text!r} names {name!r}, which is neither a column "
            f"of the data nor a derived variable.{hint} To use a cluster mean, derive it from "
            f"the imputed values: derive={{{name!r}: jm.cluster_mean('variable')}}"
        )


def analyze(
    imp: Imputation,
    formula: str | None = None,
    *,
    backend: str = "statsmodels",
    derive: Mapping[str, ClusterStatistic | DeriveFunction] | None = None,
    progressbar: bool = True,
    **kwargs: Any,
) -> AnalysisFits | BayesianFits:
    """Fit an analysis model to each completed data set (mitml's ``with``).

    Parameters
    ----------
    imp : Imputation
        From :func:`jmimpute.impute`.
    formula : str, optional
        lme4-style formula with at most one random term, e.g. ``"lpo ~ iqv + (1|sch)"``;
        ``factor(x)`` is accepted for ``C(x)``; ``mean(x)`` and ``cwc(x)`` are computed on
        every completed set from its values (the cluster being the random term's group).
        Defaults to the analysis formula of a substantive-model imputation
        (``jm.impute(..., analysis=...)``).
    backend : {"statsmodels", "bambi"}, default "statsmodels"
        Frequentist MixedLM/OLS/GLM fits pooled with Rubin's rules, or Bayesian bambi
        models whose posterior draws are mixed over the sets.
    derive : mapping, optional
        Variables to compute on every completed set before fitting, e.g.
        ``{"iqm": jm.cluster_mean("iqv")}`` (see :meth:`Imputation.with_columns`).
    progressbar : bool, default True
        Show a progress bar over the sets.
    **kwargs
        statsmodels: ``reml`` (default True), ``family`` and ``fit`` arguments. bambi: any
        ``bambi.Model`` argument (``family``, ``priors``, ...) and sampler arguments
        (``draws``, ``tune``, ``chains``, ``random_seed``, ...).

    Returns
    -------
    AnalysisFits or BayesianFits

    Raises
    ------
    AnalysisError
        If the model fails on some sets; the message lists them by number.

    Examples
    --------
    >>> fits = jm.analyze(imp, "lpo ~ iqv + iqm + (1|sch)",
    ...                   derive={"iqm": jm.cluster_mean("iqv")}, reml=False)  # doctest: +SKIP
    >>> fits.pool()  # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}; got {backend!r}")
    if formula is None:
        if imp.spec.analysis is None:
            raise TypeError(
                "give the analysis `formula`, e.g. analyze(imp, 'lpo ~ iqv + (1|sch)'); only an "
                "imputation made with `analysis=` has one to default to"
            )
        formula = imp.spec.analysis
    derive = dict(derive or {})
    if isinstance(formula, str) and "(" in formula:
        taken = {str(c) for c in imp.data.columns} | set(imp.derived) | set(derive)
        formula, clustered = cluster_terms(formula, taken)
        group = parse_terms(formula).random
        by = group[0].group if group else None
        for name, (variable, centre) in clustered.items():
            derive[name] = (cluster_centre if centre else cluster_mean)(variable, by=by)
    parsed = parse_analysis_formula(formula)
    if derive:
        imp = imp.with_columns(**derive)
    _check_variables(parsed, imp)
    if backend == "statsmodels" and parsed.response in imp.data.columns:
        response = plain_dtypes(imp.data[[parsed.response]])[parsed.response]
        check_response(parsed, response, kwargs.get("family"))
    if backend == "bambi":
        from jmimpute.analysis.bayesian import fit_bambi

        return fit_bambi(imp, parsed, progressbar=progressbar, **kwargs)

    fits, failures = [], []
    for k in tqdm(range(1, imp.m + 1), desc="fitting", disable=not progressbar, leave=False):
        try:
            fits.append(fit_statsmodels(parsed, imp.complete(k), **kwargs))
        except Exception as err:  # reported by set number below, never hidden
            failures.append(f"set {k}: {type(err).__name__}: {err}")
    if failures:
        raise AnalysisError(
            f"fitting {formula!r} failed on {len(failures)} of {imp.m} imputed data sets:\n  "
            + "\n  ".join(failures)
        )
    flagged = [k for k, f in enumerate(fits, start=1) if not f.info.get("converged", True)]
    if flagged:
        _log.warning("the fit did not converge on imputed sets %s; see fits.model_info()", flagged)
    return AnalysisFits(parsed, fits, backend)
