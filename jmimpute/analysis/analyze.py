"""``analyze``: fit one analysis model to every completed data set."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm.auto import tqdm

from jmimpute.analysis.derive import (
    ClusterStatistic,
    DeriveFunction,
    cluster_centre,
    cluster_mean,
)
from jmimpute.analysis.external import CompletedSets, read_sets
from jmimpute.analysis.fits import AnalysisFits
from jmimpute.analysis.formula import AnalysisFormula, cluster_terms, parse_analysis_formula
from jmimpute.analysis.frequentist import (
    check_design,
    check_response,
    fit_statsmodels,
    plain_dtypes,
)
from jmimpute.spec.parser import parse_terms

if TYPE_CHECKING:
    from jmimpute.analysis.bayesian import BayesianFits
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")
BACKENDS = ("statsmodels", "bambi")


class AnalysisError(RuntimeError):
    """The analysis model could not be fitted to some imputed data sets (named by number)."""


def _check_variables(formula: AnalysisFormula, imp: Imputation | CompletedSets) -> None:
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


_EXTERNAL = (pd.DataFrame, str, PathLike, list, tuple)


def _sets(
    imp: object,
    formula: str | None,
    imputation_column: str | None,
    names: Sequence[str] | None,
) -> tuple[Imputation | CompletedSets, str]:
    """The completed sets to analyse and the formula (an Imputation's own by default)."""
    if isinstance(imp, _EXTERNAL):
        if formula is None:
            raise TypeError(
                "give the analysis `formula`, e.g. analyze(sets, 'lpo ~ iqv + (1|sch)'); "
                "completed sets made elsewhere have none to default to"
            )
        if not isinstance(formula, str):
            parse_analysis_formula(formula)  # raises its ValueError for a non-string
        parse_terms(formula)  # a malformed formula is refused before any file is read
        sets = read_sets(imp, imputation_column=imputation_column, names=names, argument="imp")
        return CompletedSets(tuple(sets)), formula
    if not (hasattr(imp, "complete") and hasattr(imp, "spec")):
        raise TypeError(
            "`imp` must be an Imputation (from jm.impute), a stacked DataFrame or file of "
            "completed sets, or a list of completed DataFrames; got "
            f"{type(imp).__name__}"
        )
    if imputation_column is not None or names is not None:
        raise TypeError(
            "`imputation_column` and `names` are for completed sets made elsewhere; an "
            "Imputation knows its own"
        )
    own: Imputation = imp  # type: ignore[assignment]
    if formula is None:
        if own.spec.analysis is None:
            raise TypeError(
                "give the analysis `formula`, e.g. analyze(imp, 'lpo ~ iqv + (1|sch)'); only an "
                "imputation made with `analysis=` has one to default to"
            )
        formula = own.spec.analysis
    return own, formula


def analyze(
    imp: Imputation | pd.DataFrame | Sequence[pd.DataFrame] | str | PathLike[str],
    formula: str | None = None,
    *,
    imputation_column: str | None = None,
    names: Sequence[str] | None = None,
    backend: str = "statsmodels",
    derive: Mapping[str, ClusterStatistic | DeriveFunction] | None = None,
    progressbar: bool = True,
    **kwargs: Any,
) -> AnalysisFits | BayesianFits:
    """Fit an analysis model to each completed data set (mitml's ``with``).

    Parameters
    ----------
    imp : Imputation, DataFrame, list of DataFrames, str or path-like
        From :func:`jmimpute.impute`, or completed sets made elsewhere (mice, Stata, SPSS,
        Blimp, mitml, Amelia, jomo): stacked in one DataFrame or file (``.csv``,
        ``.parquet``, ``.dta``, ``.sav``) with an imputation-number column (``.imp``,
        ``_mi_m``, ``Imputation_``, ``Imputation``, or the one named by
        ``imputation_column``; imputation 0, the incomplete data, is dropped), a headerless
        file with the number first (Blimp's ``SAVE: stacked``, with ``names``), or a list
        of completed DataFrames. See :func:`jmimpute.completed_sets`.
    formula : str, optional
        lme4-style formula with at most one random term, e.g. ``"lpo ~ iqv + (1|sch)"``;
        ``factor(x)`` is accepted for ``C(x)``; ``mean(x)`` and ``cwc(x)`` are computed on
        every completed set from its values (the cluster being the random term's group).
        Defaults to the analysis formula of a substantive-model imputation
        (``jm.impute(..., analysis=...)``); required for completed sets made elsewhere.
    imputation_column : str, optional
        The column that numbers stacked sets made elsewhere, if not a known one.
    names : sequence of str, optional
        The variables of a headerless stacked file (Blimp), in order; its first column is
        the imputation number.
    backend : {"statsmodels", "bambi"}, default "statsmodels"
        Frequentist MixedLM/OLS/GLM fits pooled with Rubin's rules, or Bayesian bambi
        models whose posterior draws are mixed over the sets.
    derive : mapping, optional
        Variables to compute on every completed set before fitting, e.g.
        ``{"iqm": jm.cluster_mean("iqv")}`` (see :meth:`Imputation.with_columns`). For
        sets made elsewhere the cluster is the formula's random-term group.
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
    FormulaError
        If the formula does not parse, or (statsmodels) cannot be evaluated on the first
        completed set: raised once, before any fit.
    ValueError
        If the formula names a column the sets do not have, or the sets made elsewhere
        cannot be read (see :func:`jmimpute.completed_sets`).
    TypeError
        If ``imp`` is none of the kinds above, or no formula is given where none defaults.
    AnalysisError
        If the model fails on some sets; the message lists them by number.

    Examples
    --------
    >>> fits = jm.analyze(imp, "lpo ~ iqv + iqm + (1|sch)",
    ...                   derive={"iqm": jm.cluster_mean("iqv")}, reml=False)  # doctest: +SKIP
    >>> fits.pool()  # doctest: +SKIP
    >>> jm.analyze(mice_long, "lpo ~ iqv + (1|sch)").pool()  # doctest: +SKIP
    >>> jm.analyze("imps.dat", "y ~ x + (1|g)", names=["g", "y", "x"])  # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}; got {backend!r}")
    sets, formula = _sets(imp, formula, imputation_column, names)
    derive = dict(derive or {})
    if isinstance(formula, str) and "(" in formula:
        taken = {str(c) for c in sets.data.columns} | set(sets.derived) | set(derive)
        formula, clustered = cluster_terms(formula, taken)
        group = parse_terms(formula).random
        by = group[0].group if group else None
        for name, (variable, centre) in clustered.items():
            derive[name] = (cluster_centre if centre else cluster_mean)(variable, by=by)
    parsed = parse_analysis_formula(formula)
    if isinstance(sets, CompletedSets):  # cluster means without by= use the formula's group
        sets = CompletedSets(sets.sets, parsed.group, sets.derivations)
    if derive:
        sets = sets.with_columns(**derive)
    _check_variables(parsed, sets)
    if backend == "statsmodels" and parsed.response in sets.data.columns:
        response = plain_dtypes(sets.data[[parsed.response]])[parsed.response]
        check_response(parsed, response, kwargs.get("family"))
    if backend == "bambi":
        from jmimpute.analysis.bayesian import fit_bambi

        return fit_bambi(sets, parsed, progressbar=progressbar, **kwargs)

    first: pd.DataFrame | None
    try:
        first = sets.complete(1)
    except Exception:  # a derived variable that fails: reported by set number below
        first = None
    if first is not None:
        check_design(parsed, first, kwargs.get("family"))
    fits, failures = [], []
    for k in tqdm(range(1, sets.m + 1), desc="fitting", disable=not progressbar, leave=False):
        try:
            data = first if k == 1 and first is not None else sets.complete(k)
            fits.append(fit_statsmodels(parsed, data, **kwargs))
        except Exception as err:  # reported by set number below, never hidden
            failures.append(f"set {k}: {type(err).__name__}: {err}")
    if failures:
        raise AnalysisError(
            f"fitting {formula!r} failed on {len(failures)} of {sets.m} imputed data sets:\n  "
            + "\n  ".join(failures)
        )
    flagged = [k for k, f in enumerate(fits, start=1) if not f.info.get("converged", True)]
    if flagged:
        _log.warning("the fit did not converge on imputed sets %s; see fits.model_info()", flagged)
    return AnalysisFits(parsed, fits, backend)
