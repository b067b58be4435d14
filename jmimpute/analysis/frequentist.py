"""Fit an analysis model to one completed data set with statsmodels.

Mixed models use ``MixedLM`` (REML by default, as lme4; ``reml=False`` for ML as in
FIMD 7.10); formulas without a random term use OLS, or a GLM when a ``family`` is given.
The fit is reduced to what pooling needs: fixed effects and their covariance, variance
components, random effects per cluster, and model information.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from jmimpute.analysis.formula import AnalysisFormula
from jmimpute.spec.terms import Variable
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


def _mixed(formula: AnalysisFormula, data: pd.DataFrame, reml: bool, kwargs: dict) -> SetFit:
    import statsmodels.formula.api as smf

    assert formula.group is not None and formula.random is not None
    model = smf.mixedlm(
        formula.fixed, data, groups=data[formula.group], re_formula=f"~{formula.random}"
    )
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
    import statsmodels.formula.api as smf

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if family is None:
            res = smf.ols(formula.fixed, data).fit(**kwargs)
            comps = pd.Series({"sigma2": float(res.scale)})
        else:
            data = coded_response(formula, data)
            res = smf.glm(formula.fixed, data, family=family).fit(**kwargs)
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
