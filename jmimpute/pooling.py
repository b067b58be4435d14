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
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def _shape_text(item: object) -> str | None:
    """One imputed set's entry in words, for an error about ragged input; None if not numbers."""
    try:
        shape = np.shape(np.asarray(item, dtype=float))
    except (ValueError, TypeError):
        return None
    if not shape:
        return "a single number"
    return f"{shape[0]} values" if len(shape) == 1 else f"shape {shape}"


def _array(value: object, argument: str, expected: str) -> np.ndarray:
    """``value`` as a float array, or a ValueError naming ``argument``.

    NumPy refuses per-set entries of unequal length ("inhomogeneous shape"), which happens
    when the sets' models had different parameters (a factor level absent from one set);
    the error then lists what each set gave.
    """
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.to_numpy()
    try:
        return np.asarray(value, dtype=float)
    except (ValueError, TypeError) as err:
        items = list(value) if isinstance(value, list | tuple) else []
        shapes = [_shape_text(item) for item in items]
        if None not in shapes and len(set(shapes)) > 1:
            shown = ", ".join(f"set {i}: {text}" for i, text in enumerate(shapes, start=1))
            raise ValueError(
                f"`{argument}` has entries of unequal length across the imputed sets "
                f"({shown}); every set must give the same {expected}, in the same order. If a "
                "parameter is missing from some sets (say a factor level absent from one), "
                "drop it or pool the sets that have it; a DataFrame with one column per "
                "parameter keeps them aligned"
            ) from err
        raise ValueError(
            f"`{argument}` must hold numbers ({expected} per imputed set); got {err}"
        ) from err


# Pooling squares differences of estimates (B) and sums variances: beyond these magnitudes
# double precision overflows, and the table would hold inf where the data hold numbers.
MAX_ESTIMATE = 1e150
MAX_VARIANCE = 1e300


def _check_magnitude(arr: np.ndarray, argument: str, limit: float) -> None:
    largest = float(np.abs(arr).max()) if arr.size else 0.0
    if largest > limit:
        raise ValueError(
            f"`{argument}` holds values of magnitude up to {largest:.3g}, beyond {limit:.0e}, "
            "too large to pool in double precision; rescale the variables (e.g. a variable "
            "in units of a million) and pool again"
        )


def _as_estimates(estimates: object) -> tuple[np.ndarray, list[str]]:
    if isinstance(estimates, pd.DataFrame):
        labels = [str(c) for c in estimates.columns]
    elif isinstance(estimates, pd.Series):
        labels = [str(estimates.name or "estimate")]
    else:
        labels = []
    arr = _array(estimates, "estimates", "parameter estimates")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"`estimates` must be an (m,) or (m, k) array of m imputations' estimates; got shape "
            f"{arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(
            f"`estimates` is empty (shape {arr.shape}); pass k >= 1 estimates from each of the "
            "m imputed sets"
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            "`estimates` contains missing or infinite values; a set whose fit failed must be "
            "refitted or left out of every argument"
        )
    _check_magnitude(arr, "estimates", MAX_ESTIMATE)
    return arr, labels or [f"Parameter.{i + 1}" for i in range(arr.shape[1])]


def _as_variances(variances: object, m: int, k: int) -> np.ndarray:
    """Covariance matrices (m, k, k) from variances (m,) / (m, k) or matrices (m, k, k)."""
    arr = _array(variances, "variances", "squared standard errors")
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
    _check_magnitude(arr, "variances", MAX_VARIANCE)
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
    # r = 0 (no between-imputation variance) gives infinite df, and r = inf (no
    # within-imputation variance) lambda = 1: limits, not errors
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        df_old = (m - 1) * (1.0 + 1.0 / riv) ** 2
        if df_com is None:
            return df_old
        lam = np.where(np.isinf(riv), 1.0, riv / (riv + 1.0))
        df_obs = (1.0 - lam) * (df_com + 1.0) / (df_com + 3.0) * df_com
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

    Raises
    ------
    ValueError
        If the estimates or variances are not numbers, are missing, infinite or too large
        to square in double precision, differ in length between the sets, have shapes that
        do not match, come from fewer than 2 sets, or the variances are negative; and for
        an invalid ``df_com``, ``ci`` or ``names``. The message names the argument and
        what was found.

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
    # W = 0 or B = 0 give r = inf or 0 (and 0/0 = nan with both): reported as such
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        riv = (1.0 + 1.0 / m) * b / w
        lam = np.where(np.isinf(riv), 1.0, riv / (1.0 + riv))
        df = barnard_rubin_df(riv, m, df_com)
        se = np.sqrt(t_var)
        tval = qbar / se
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
        fmi = np.where(np.isinf(riv), 1.0, fmi)
        pval = 2.0 * stats.t.sf(np.abs(tval), df)
        crit = stats.t.ppf(0.5 + ci / 2.0, df)
        lower, upper = qbar - crit * se, qbar + crit * se
    table = pd.DataFrame(
        {
            "estimate": qbar,
            "std_error": se,
            "t": tval,
            "df": df,
            "p_value": pval,
            "ci_lower": lower,
            "ci_upper": upper,
            "riv": riv,
            "lambda": lam,
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

    Parameters
    ----------
    estimates : array-like or pandas.DataFrame
        ``(m,)`` or ``(m, k)``, as for :func:`pool`.
    names : sequence of str, optional
        Parameter names (override those of a DataFrame).

    Returns
    -------
    pandas.Series
        The k averages.

    Raises
    ------
    ValueError
        If the estimates are not numbers, are missing, infinite or too large, or differ in
        length between the sets, or ``names`` does not give one name per parameter.
    """
    q, labels = _as_estimates(estimates)
    if names is not None:
        if len(names) != len(labels):
            raise ValueError(f"`names` has {len(names)} entries for {len(labels)} parameters")
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

    Raises
    ------
    ValueError
        As :func:`pool` for the inputs; also if the average covariance matrix is singular,
        or ``df_com`` is given with ``k (m - 1) <= 4``, where Reiter's small-sample df is
        undefined (use more imputations, or ``df_com=None``).
    """
    q, labels = _as_estimates(estimates)
    m, k = q.shape
    if m < 2:
        raise ValueError(f"the D1 test needs estimates from at least 2 imputed data sets; got {m}")
    u = _as_variances(covariances, m, k)
    df_com = _check_df_com(df_com)
    t = k * (m - 1)
    if df_com is not None and t <= 4:
        raise ValueError(
            f"Reiter's small-sample df of the D1 test needs k (m - 1) > 4; got k = {k} "
            f"parameters and m = {m} imputations. Use more imputations, or df_com=None for the "
            "large-sample df"
        )
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    between = np.atleast_2d(np.cov(q, rowvar=False, ddof=1))
    try:
        r = (1.0 + 1.0 / m) * np.trace(between @ np.linalg.inv(ubar)) / k
        stat = float(qbar @ np.linalg.solve((1.0 + r) * ubar, qbar) / k)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"the average covariance matrix of the {k} estimates is singular ({err}); the D1 "
            "test needs positive-definite `covariances` (drop parameters that are fixed or "
            "that repeat another)"
        ) from err
    # r = 0 (no between-imputation variance) gives infinite df2: a limit, not an error
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = _d1_df2(float(r), t, k, df_com)
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


def _d1_df2(r: float, t: int, k: int, df_com: float | None) -> float:
    """The D1 test's denominator df: Reiter (2007) with ``df_com``, else Li et al. (1991)."""
    r_ = np.float64(r)  # NumPy scalars divide by zero as IEEE does, giving inf
    if df_com is not None:
        a = r_ * t / (t - 2)
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
        return float(4 + 1 / z)
    if t > 4:
        return float(4 + (t - 4) * (1 + (1 - 2 / t) / r_) ** 2)
    return float(t * (1 + 1 / k) * (1 + 1 / r_) ** 2 / 2)


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

    Raises
    ------
    ValueError
        If the statistics are not finite non-negative numbers (below 1e300) from at least
        2 sets, or ``df`` is not a whole number >= 1.
    """
    d = _array(chi_squares, "chi_squares", "one statistic").ravel()
    m = d.size
    if m < 2:
        raise ValueError(f"D2 needs statistics from at least 2 imputed data sets; got {m}")
    if (d < 0).any() or not np.isfinite(d).all():
        raise ValueError("`chi_squares` must be finite, non-negative statistics")
    _check_magnitude(d, "chi_squares", MAX_VARIANCE)
    k = float(df)
    if not (np.isfinite(k) and k >= 1 and k == round(k)):
        raise ValueError(
            f"`df` must be the statistics' degrees of freedom, a whole number >= 1 (the number "
            f"of parameters tested); got {df}"
        )
    # a NumPy scalar: its overflow (1/r for tiny r) gives inf, a Python float's raises
    r = np.float64((1 + 1 / m) * np.var(np.sqrt(d), ddof=1))
    stat = (d.mean() / k - (m + 1) / (m - 1) * r) / (1 + r)
    # r = 0 (the sets agree) gives infinite df2, the limit; a huge k may underflow k^(-3/m)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        v = math.inf if r == 0 else float(k ** (-3 / m) * (m - 1) * (1 + 1 / r) ** 2)
    return MultiParameterTest(
        method="D2",
        statistic=float(stat),
        df1=k,
        df2=float(v),
        p_value=float(stats.f.sf(stat, k, v)),
        riv=float(r),
        m=m,
    )
