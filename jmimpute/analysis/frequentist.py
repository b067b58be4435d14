"""Fit an analysis model to one completed data set with statsmodels.

Mixed models use ``MixedLM`` (REML by default, as lme4; ``reml=False`` for ML as in
FIMD 7.10); formulas without a random term use OLS, or a GLM when a ``family`` is given.
The fit is reduced to what pooling needs: fixed effects and their covariance, variance
components, random effects per cluster, and model information.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from jmimpute.analysis.formula import AnalysisFormula
from jmimpute.spec.parser import FormulaError
from jmimpute.spec.terms import Call, Interaction, Variable
from jmimpute.spec.variables import observed_categories

INTERCEPT = "(Intercept)"


def _categorical(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _bare_response(formula: AnalysisFormula) -> bool:
    """The left of ``~`` is a column itself (not ``I(y == 'a')``, ``C(y)``, ...)."""
    outcomes = formula.terms.outcomes
    return len(outcomes) == 1 and isinstance(outcomes[0], Variable)


def check_response(formula: AnalysisFormula, column: pd.Series, family: Any) -> None:
    """Refuse, before any fit, a categorical response that the statsmodels fits cannot take.

    A binary one (two categories) is fitted by a GLM without random effects, coded 1 for
    its second category as R's ``glm`` reads a factor; linear fits need a numeric one. A
    response written as an expression is left to the formula layer.

    Raises
    ------
    ValueError
        Naming the response, its categories and the alternatives.
    """
    if not _bare_response(formula) or not _categorical(column):
        return
    levels = observed_categories(column)
    if len(levels) == 2 and family is not None and not formula.mixed:
        return
    shown = ", ".join(map(repr, levels[:5]))
    binary = (
        "For a binary outcome with random effects use backend='bambi' with "
        "family='bernoulli' (link='probit' for the substantive model's scale); without "
        "random effects pass a statsmodels family, e.g. "
        "family=statsmodels.api.families.Binomial() (coded 1 for "
        f"{levels[-1]!r}); an imputation made with `analysis=` gives its own probit "
        "estimates in imp.model_estimates()"
        if len(levels) == 2
        else "Recode it as a number, or use backend='bambi' with a categorical family"
    )
    raise ValueError(
        f"the response {formula.response!r} is categorical ({shown}); the statsmodels "
        f"backend fits {'mixed' if formula.mixed else 'linear'} models to a numeric "
        f"response. {binary}"
    )


def coded_response(formula: AnalysisFormula, data: pd.DataFrame) -> pd.DataFrame:
    """A binary categorical response as 0/1, its second category 1.

    As R's ``glm`` reads a factor; bambi would take the first category as the event.
    """
    column = data[formula.response]
    bare = _bare_response(formula) and _categorical(column)
    levels = observed_categories(column) if bare else []
    if len(levels) != 2:
        return data
    second = levels[-1]
    coded = (column.astype(object) == second).astype(float).where(column.notna())
    return data.assign(**{formula.response: coded})


def tidy_name(name: str) -> str:
    """Common names for both backends: ``(Intercept)`` and ``den[2]`` (not ``C(den)[T.2]``)."""
    if name in ("Intercept", "Group", "Group Var"):
        return INTERCEPT
    name = re.sub(r"^C\(([^,()]+)\)\[(?:T\.)?(.+)\]$", r"\1[\2]", name)
    return re.sub(r"^([^\[]+)\[T\.(.+)\]$", r"\1[\2]", name)


@dataclass
class SetFit:
    """What pooling needs from the fit to one completed data set.

    Attributes
    ----------
    params : pandas.Series
        Fixed effects.
    cov : pandas.DataFrame
        Their covariance matrix.
    df_resid : float
        Residual degrees of freedom (n - k).
    varcomp : pandas.Series
        Variance components (``tau`` elements, ``sigma2``) and the ``ICC`` where defined.
    ranef : pandas.DataFrame or None
        Random effects (cluster x effect).
    info : dict
        ``nobs``, ``n_groups``, ``loglik``, ``aic``, ``bic``, ``converged``, ``warnings``.
    result : object
        The statsmodels result itself.
    """

    params: pd.Series
    cov: pd.DataFrame
    df_resid: float
    varcomp: pd.Series
    ranef: pd.DataFrame | None
    info: dict[str, Any] = field(default_factory=dict)
    result: Any = None


def _model(formula: AnalysisFormula, data: pd.DataFrame, family: Any) -> Any:
    """The statsmodels model, its design built but not fitted.

    The one place where the formula is evaluated (statsmodels evaluates it in the caller's
    namespace, this function's), so that :func:`check_design` and the fits read the same
    names.
    """
    import statsmodels.formula.api as smf

    if formula.mixed:
        assert formula.group is not None and formula.random is not None  # mixed says so
        return smf.mixedlm(
            formula.fixed, data, groups=data[formula.group], re_formula=f"~{formula.random}"
        )
    if family is None:
        return smf.ols(formula.fixed, data)
    return smf.glm(formula.fixed, coded_response(formula, data), family=family)


def _mixed(formula: AnalysisFormula, data: pd.DataFrame, reml: bool, kwargs: dict) -> SetFit:
    model = _model(formula, data, None)
    fit_kwargs = {"reml": reml} | kwargs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(**fit_kwargs)
    fe = res.fe_params
    names = [tidy_name(n) for n in fe.index]
    cov = res.cov_params().loc[fe.index, fe.index]
    re_names = [tidy_name(n) for n in res.cov_re.index]
    cov_re = pd.DataFrame(res.cov_re.to_numpy(), index=re_names, columns=re_names)
    comps: dict[str, float] = {}
    for i, a in enumerate(re_names):
        for j, b in enumerate(re_names[: i + 1]):
            key = f"tau[{a}]" if i == j else f"tau[{b}, {a}]"
            comps[key] = float(cov_re.to_numpy()[i, j])
    comps["sigma2"] = float(res.scale)
    if INTERCEPT in re_names:
        tau00 = float(np.diag(cov_re.to_numpy())[re_names.index(INTERCEPT)])
        comps["ICC"] = tau00 / (tau00 + float(res.scale))
    ranef = pd.DataFrame({k: v.to_numpy() for k, v in res.random_effects.items()}, index=re_names).T
    ranef.index.name = formula.group
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    return SetFit(
        params=pd.Series(fe.to_numpy(), index=names),
        cov=pd.DataFrame(cov.to_numpy(), index=names, columns=names),
        df_resid=float(res.nobs - len(fe)),
        varcomp=pd.Series(comps),
        ranef=ranef,
        info={
            "nobs": int(res.nobs),
            "n_groups": len(res.random_effects),
            "loglik": float(res.llf),
            "aic": float(res.aic) if np.isfinite(res.aic) else np.nan,
            "bic": float(res.bic) if np.isfinite(res.bic) else np.nan,
            "converged": bool(res.converged),
            "method": "REML" if reml else "ML",
            "warnings": "; ".join(messages),
        },
        result=res,
    )


def _single_level(
    formula: AnalysisFormula, data: pd.DataFrame, family: Any, kwargs: dict
) -> SetFit:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _model(formula, data, family).fit(**kwargs)
        if family is None:
            comps = pd.Series({"sigma2": float(res.scale)})
        else:
            comps = pd.Series(dtype=float)
    names = [tidy_name(n) for n in res.params.index]
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    return SetFit(
        params=pd.Series(res.params.to_numpy(), index=names),
        cov=pd.DataFrame(res.cov_params().to_numpy(), index=names, columns=names),
        df_resid=float(res.df_resid),
        varcomp=comps,
        ranef=None,
        info={
            "nobs": int(res.nobs),
            "n_groups": np.nan,
            "loglik": float(res.llf),
            "aic": float(res.aic),
            "bic": float(res.bic),
            "converged": bool(getattr(res, "converged", True)),
            "method": "OLS" if family is None else "GLM",
            "warnings": "; ".join(messages),
        },
        result=res,
    )


def plain_dtypes(data: pd.DataFrame) -> pd.DataFrame:
    """Nullable pandas columns (``boolean``, ``Int64``, ``Float64``) as NumPy dtypes.

    statsmodels' and bambi's formula layers do not take pandas' nullable extension dtypes;
    completed sets keep them (the user's dtypes), so they are converted for fitting only:
    to ``bool``/``int64`` when a column holds no missing value, else to ``float``.
    """
    out = data.copy(deep=False)
    for name, col in data.items():
        kind = col.dtype.kind
        if not isinstance(col.dtype, pd.api.extensions.ExtensionDtype) or kind not in "biuf":
            continue
        plain = {"b": bool, "i": np.int64, "u": np.uint64}.get(kind, float)
        out[name] = col.to_numpy(dtype=float if col.isna().any() else plain, na_value=np.nan)
    return out


def _formula_errors() -> tuple[type[BaseException], ...]:
    """What the formula engines raise for a formula they cannot evaluate."""
    from patsy import PatsyError

    errors: list[type[BaseException]] = [PatsyError, SyntaxError]
    try:  # statsmodels can use formulaic instead of patsy
        from formulaic.errors import FormulaicError
    except ImportError:  # pragma: no cover - formulaic is optional
        pass
    else:
        errors.append(FormulaicError)
    return tuple(errors)


def _where(formula: AnalysisFormula, err: BaseException) -> tuple[str, int]:
    """The formula text and position to point at for the engine's error."""
    origin = getattr(err, "origin", None)
    if origin is not None and getattr(origin, "code", None):
        snippet = origin.code[origin.start : origin.end]
        found = formula.text.find(snippet) if snippet else -1
        return (formula.text, found) if found >= 0 else (origin.code, origin.start)
    # Python syntax inside a call, e.g. I(x +): the first call that does not compile
    terms = [*formula.terms.fixed, *(t for r in formula.terms.random for t in r.effects)]
    for term in terms:
        for factor in term.factors if isinstance(term, Interaction) else (term,):
            if isinstance(factor, Call):
                try:
                    ast.parse(factor.patsy(), mode="eval")
                except SyntaxError:
                    return formula.text, factor.pos
    return formula.text, 0


def check_design(formula: AnalysisFormula, data: pd.DataFrame, family: Any = None) -> None:
    """Evaluate the formula on one completed set before fitting any.

    The formula parser (:mod:`jmimpute.spec.parser`) leaves calls such as ``log(x)`` or
    ``C(x, Sum)`` unevaluated; a name or a syntax error inside one would otherwise fail in
    every set's fit and be reported m times. Building the design once finds it first.
    Problems of the data (not of the formula) are left to the fits, which report them by
    set number.

    Parameters
    ----------
    formula : AnalysisFormula
    data : pandas.DataFrame
        A completed data set.
    family : statsmodels family, optional
        As for :func:`fit_statsmodels`.

    Raises
    ------
    FormulaError
        If the formula engine cannot evaluate the formula, pointing at the term.
    """
    errors = _formula_errors()
    try:
        _model(formula, plain_dtypes(data), family)
    except errors as err:
        text, pos = _where(formula, err)
        message = str(getattr(err, "message", "") or err).splitlines()[0]
        raise FormulaError(
            text,
            pos,
            f"the analysis formula cannot be evaluated on the completed data: "
            f"{type(err).__name__}: {message}. Functions must be Python ones, e.g. np.log(x) "
            "for R's log(x), C(x) or factor(x) for a factor, I(x**2) for a power",
        ) from err
    except Exception:  # a problem of the data: each set's fit reports its own
        return


def fit_statsmodels(
    formula: AnalysisFormula,
    data: pd.DataFrame,
    *,
    reml: bool = True,
    family: Any = None,
    **kwargs: Any,
) -> SetFit:
    """Fit the analysis model to one completed data set.

    Parameters
    ----------
    formula : AnalysisFormula
    data : pandas.DataFrame
    reml : bool, default True
        REML (lme4's default) or ML for mixed models.
    family : statsmodels family, optional
        For a GLM without random effects.
    **kwargs
        Passed to the statsmodels ``fit`` method.

    Returns
    -------
    SetFit
    """
    data = plain_dtypes(data)
    check_response(formula, data[formula.response], family)
    if formula.mixed:
        if family is not None:
            raise ValueError(
                "`family` is only available for models without random effects with the "
                "statsmodels backend; use backend='bambi' for generalised mixed models"
            )
        return _mixed(formula, data, reml, kwargs)
    return _single_level(formula, data, family, kwargs)
