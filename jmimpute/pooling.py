"""Rubin's rules and multi-parameter tests for multiply imputed data, on plain arrays.

The formulas are those of mitml (``testEstimates``, ``testConstraints``, ``testModels``)
and mice (``pool``): Rubin (1987) with the Barnard and Rubin (1999) degrees of freedom,
the D1 Wald test of Li, Raghunathan and Rubin (1991) with Reiter's (2007) small-sample
degrees of freedom, and the D2 pooled chi-square test of Li, Meng, Raghunathan and Rubin
(1991). Variances (not standard errors) are averaged.

For m estimates ``Q_i`` with variances ``U_i``::

    Qbar = mean(Q_i);  W = mean(U_i);  B = var(Q_i);  T = W + (1 + 1/m) B
    r = (1 + 1/m) B / W                   (relative increase in variance, RIV)
    df_old = (m - 1) (1 + 1/r)^2
    lambda = (1 + 1/m) B / T = r / (1 + r)
    df_obs = (df_com + 1) / (df_com + 3) df_com (1 - lambda)
    df = 1 / (1/df_old + 1/df_obs)         (only when df_com is given)
    FMI = (r + 2 / (df + 3)) / (r + 1)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def _as_estimates(estimates: object) -> tuple[np.ndarray, list[str]]:
    if isinstance(estimates, pd.DataFrame):
        return estimates.to_numpy(dtype=float), [str(c) for c in estimates.columns]
    if isinstance(estimates, pd.Series):
        return estimates.to_numpy(dtype=float)[:, None], [str(estimates.name or "estimate")]
    arr = np.asarray(estimates, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"`estimates` must be an (m,) or (m, k) array of m imputations' estimates; got shape "
            f"{arr.shape}"
        )
    return arr, [f"Parameter.{i + 1}" for i in range(arr.shape[1])]


def _as_variances(variances: object, m: int, k: int) -> np.ndarray:
    """Covariance matrices (m, k, k) from variances (m,) / (m, k) or matrices (m, k, k)."""
    arr = np.asarray(variances.to_numpy() if hasattr(variances, "to_numpy") else variances)
    arr = arr.astype(float)
    if arr.ndim == 1 and k == 1:
        arr = arr[:, None]
    if arr.shape == (m, k):
        cov = np.zeros((m, k, k))
        cov[:, np.arange(k), np.arange(k)] = arr
        arr = cov
    if arr.shape != (m, k, k):
        raise ValueError(
            f"`variances` must hold the squared standard errors with shape ({m}, {k}) or "
            f"covariance matrices with shape ({m}, {k}, {k}) to match `estimates`; got shape "
            f"{arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("`variances` contains missing or infinite values")
    diag = np.diagonal(arr, axis1=1, axis2=2)
    if (diag < 0).any():
        raise ValueError(
            "`variances` has negative entries on the diagonal; pass variances (squared "
            "standard errors), not standard errors or covariances of the wrong sign"
        )
    return arr


def _check_df_com(df_com: float | None) -> float | None:
    if df_com is None:
        return None
    value = float(df_com)
    if not (value > 0):
        raise ValueError(f"`df_com` must be a positive number of complete-data df; got {df_com}")
    return value


def barnard_rubin_df(riv: np.ndarray, m: int, df_com: float | None = None) -> np.ndarray:
    """Degrees of freedom of a pooled estimate (Barnard and Rubin 1999).

    Parameters
    ----------
    riv : ndarray
        Relative increase in variance ``r``.
    m : int
        Number of imputations.
    df_com : float, optional
        Complete-data degrees of freedom; None gives Rubin's (1987) large-sample df.

    Returns
    -------
    ndarray
    """
    riv = np.asarray(riv, dtype=float)
    with np.errstate(divide="ignore"):
        df_old = (m - 1) * (1.0 + 1.0 / riv) ** 2
    if df_com is None:
        return df_old
    lam = riv / (riv + 1.0)
    df_obs = (1.0 - lam) * (df_com + 1.0) / (df_com + 3.0) * df_com
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 / df_old + 1.0 / df_obs)


@dataclass(frozen=True)
class PooledEstimates:
    """Rubin's rules applied to m sets of estimates.

    Attributes
    ----------
    table : pandas.DataFrame
        Per parameter: ``estimate``, ``std_error``, ``t``, ``df``, ``p_value``, ``ci_lower``,
        ``ci_upper``, ``riv``, ``lambda``, ``fmi``, and the variance parts ``within``,
        ``between``, ``total``.
    m : int
    df_com : float or None
    ci : float
        Coverage of the confidence intervals.
    total_covariance : ndarray, shape (k, k)
        ``T = Ubar + (1 + 1/m) B``, for Wald tests.
    """

    table: pd.DataFrame
    m: int
    df_com: float | None
    ci: float
    total_covariance: np.ndarray

    def __str__(self) -> str:
        df_text = "large-sample" if self.df_com is None else f"df_com = {self.df_com:g}"
        cols = ["estimate", "std_error", "t", "df", "p_value", "ci_lower", "ci_upper", "riv", "fmi"]
        return (
            f"Pooled estimates (Rubin's rules, m = {self.m}, Barnard-Rubin df, {df_text}, "
            f"{self.ci:.0%} CI)\n" + self.table[cols].to_string(float_format=lambda v: f"{v:.4g}")
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p><b>Pooled estimates</b> (Rubin's rules, m = {self.m})</p>" + self.table.to_html(
            float_format="{:.4g}".format
        )


def pool(
    estimates: object,
    variances: object,
    *,
    df_com: float | None = None,
    ci: float = 0.95,
    names: Sequence[str] | None = None,
) -> PooledEstimates:
    """Pool estimates from m imputed data sets with Rubin's rules (mitml's ``testEstimates``).

    Parameters
    ----------
    estimates : array-like or pandas.DataFrame
        ``(m,)`` or ``(m, k)``: the estimates of k parameters in each of m imputed sets. A
        DataFrame's columns name the parameters.
    variances : array-like
        ``(m,)`` or ``(m, k)`` squared standard errors, or ``(m, k, k)`` covariance matrices.
    df_com : float, optional
        Complete-data degrees of freedom (e.g. n - k for a linear model); gives the
        Barnard-Rubin small-sample df. None uses Rubin's large-sample df.
    ci : float, default 0.95
        Coverage of the confidence intervals.
    names : sequence of str, optional
        Parameter names (override those of a DataFrame).

    Returns
    -------
    PooledEstimates

    Examples
    --------
    >>> res = pool([1.0, 1.2, 0.9], [0.04, 0.05, 0.045], df_com=100)
    >>> round(float(res.table["estimate"].iloc[0]), 4)
    1.0333
    """
    q, labels = _as_estimates(estimates)
    m, k = q.shape
    if m < 2:
        raise ValueError(f"pooling needs estimates from at least 2 imputed data sets; got m={m}")
    if names is not None:
        if len(names) != k:
            raise ValueError(f"`names` has {len(names)} entries for {k} parameters")
        labels = [str(n) for n in names]
    u = _as_variances(variances, m, k)
    df_com = _check_df_com(df_com)
    if not 0 < ci < 1:
        raise ValueError(f"`ci` must lie in (0, 1); got {ci}")

    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    between = np.atleast_2d(np.cov(q, rowvar=False, ddof=1))
    total = ubar + (1.0 + 1.0 / m) * between
    w, b, t_var = np.diag(ubar), np.diag(between), np.diag(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1.0 + 1.0 / m) * b / w
    df = barnard_rubin_df(riv, m, df_com)
    se = np.sqrt(t_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = qbar / se
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    pval = 2.0 * stats.t.sf(np.abs(tval), df)
    crit = stats.t.ppf(0.5 + ci / 2.0, df)
    table = pd.DataFrame(
        {
            "estimate": qbar,
            "std_error": se,
            "t": tval,
            "df": df,
            "p_value": pval,
            "ci_lower": qbar - crit * se,
            "ci_upper": qbar + crit * se,
            "riv": riv,
            "lambda": riv / (1.0 + riv),
            "fmi": fmi,
            "within": w,
            "between": b,
            "total": t_var,
        },
        index=pd.Index(labels, name="parameter"),
    )
    return PooledEstimates(table=table, m=m, df_com=df_com, ci=ci, total_covariance=total)


def pool_point(estimates: object, names: Sequence[str] | None = None) -> pd.Series:
    """Average point estimates that come without variances (mitml's ``extra.pars``).

    For variance components and ICCs, whose sampling variance the fits do not provide.
    """
    q, labels = _as_estimates(estimates)
    if names is not None:
        labels = [str(n) for n in names]
    return pd.Series(q.mean(axis=0), index=pd.Index(labels, name="parameter"), name="estimate")


@dataclass(frozen=True)
class MultiParameterTest:
    """Result of a pooled multi-parameter test (D1 or D2).

    Attributes
    ----------
    method : {"D1", "D2"}
    statistic : float
        The F statistic.
    df1, df2 : float
        Numerator and denominator degrees of freedom.
    p_value : float
    riv : float
        Average relative increase in variance.
    m : int
    """

    method: str
    statistic: float
    df1: float
    df2: float
    p_value: float
    riv: float
    m: int
    parameters: tuple[str, ...] = ()

    def __str__(self) -> str:
        what = f" of {', '.join(self.parameters)} = 0" if self.parameters else ""
        return (
            f"{self.method} test{what} (m = {self.m}): F = {self.statistic:.4g} on "
            f"{self.df1:g} and {self.df2:.4g} df, p = {self.p_value:.4g}, RIV = {self.riv:.4g}"
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(str(self))}</p>"


def d1_test(
    estimates: object,
    covariances: object,
    *,
    df_com: float | None = None,
) -> MultiParameterTest:
    """Pooled Wald test that all k parameters are zero (D1; mitml ``testConstraints``).

    Parameters
    ----------
    estimates : array-like, shape (m, k)
    covariances : array-like, shape (m, k, k)
        Each imputation's covariance matrix of the k estimates.
    df_com : float, optional
        Complete-data df; gives Reiter's (2007) small-sample df2.

    Returns
    -------
    MultiParameterTest
    """
    q, labels = _as_estimates(estimates)
    m, k = q.shape
    u = _as_variances(covariances, m, k)
    df_com = _check_df_com(df_com)
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    between = np.atleast_2d(np.cov(q, rowvar=False, ddof=1))
    r = (1.0 + 1.0 / m) * np.trace(between @ np.linalg.inv(ubar)) / k
    stat = float(qbar @ np.linalg.solve((1.0 + r) * ubar, qbar) / k)
    t = k * (m - 1)
    if df_com is not None:
        a = r * t / (t - 2)
        vstar = (df_com + 1) / (df_com + 3) * df_com
        c0 = 1 / (t - 4)
        c1 = vstar - 2 * (1 + a)
        c2 = vstar - 4 * (1 + a)
        z = (
            1 / c2
            + c0 * (a**2 * c1 / ((1 + a) ** 2 * c2))
            + c0 * (8 * a**2 * c1 / ((1 + a) * c2**2) + 4 * a**2 / ((1 + a) * c2))
            + c0 * (4 * a**2 / (c2 * c1) + 16 * a**2 * c1 / c2**3)
            + c0 * (8 * a**2 / c2**2)
        )
        v = 4 + 1 / z
    elif t > 4:
        v = 4 + (t - 4) * (1 + (1 - 2 / t) / r) ** 2
    else:
        v = t * (1 + 1 / k) * (1 + 1 / r) ** 2 / 2
    return MultiParameterTest(
        method="D1",
        statistic=stat,
        df1=float(k),
        df2=float(v),
        p_value=float(stats.f.sf(stat, k, v)),
        riv=float(r),
        m=m,
        parameters=tuple(labels),
    )


def d2_test(chi_squares: object, df: int) -> MultiParameterTest:
    """Pool m chi-square (or Wald) statistics with k df (D2; mitml ``testModels``).

    Parameters
    ----------
    chi_squares : array-like, shape (m,)
        The test statistic computed in each imputed data set.
    df : int
        Its degrees of freedom ``k``.

    Returns
    -------
    MultiParameterTest
    """
    d = np.asarray(chi_squares, dtype=float).ravel()
    m = d.size
    if m < 2:
        raise ValueError(f"D2 needs statistics from at least 2 imputed data sets; got {m}")
    if (d < 0).any() or not np.isfinite(d).all():
        raise ValueError("`chi_squares` must be finite, non-negative statistics")
    k = float(df)
    r = (1 + 1 / m) * np.var(np.sqrt(d), ddof=1)
    stat = (d.mean() / k - (m + 1) / (m - 1) * r) / (1 + r)
    v = k ** (-3 / m) * (m - 1) * (1 + 1 / r) ** 2
    return MultiParameterTest(
        method="D2",
        statistic=float(stat),
        df1=k,
        df2=float(v),
        p_value=float(stats.f.sf(stat, k, v)),
        riv=float(r),
        m=m,
    )
