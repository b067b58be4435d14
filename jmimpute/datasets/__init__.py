"""Example data sets shipped with jmimpute.

* :func:`load_brandsma` -- 4106 pupils in 216 Dutch schools (Brandsma and Knuver 1989,
  as in Snijders and Bosker and R's mice), with missing values at both levels.
* :func:`load_hsb` -- High School and Beyond, 7185 students in 160 schools (as in R's
  merTools), complete.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_brandsma", "load_hsb"]


def _load(name: str, **kwargs: object) -> pd.DataFrame:
    with resources.files(__name__).joinpath(name).open("r") as fh:
        return pd.read_csv(fh, **kwargs)  # type: ignore[call-overload]


def load_brandsma() -> pd.DataFrame:
    """Pupils in schools with missing data at both levels (FIMD section 7.10).

    Columns: ``sch`` (school), ``pup`` (pupil), ``iqv`` (verbal IQ, centred), ``iqp``
    (performal IQ), ``sex``, ``ses``, ``min`` (minority), ``rpg`` (repeated group), ``lpr``
    and ``lpo`` (language pre- and post-test), ``apr`` and ``apo`` (arithmetic pre- and
    post-test), ``den`` (school denomination, 1-4, a level-2 variable) and ``ssi`` (school
    SES index). Missing: lpo 204, iqv 17, ses 137, sex 10, den 249, ssi 622, among others.

    Returns
    -------
    pandas.DataFrame
        4106 rows; a fresh copy on every call.

    Examples
    --------
    >>> load_brandsma().shape
    (4106, 14)
    """
    return _load("brandsma.csv")


def load_hsb() -> pd.DataFrame:
    """High School and Beyond: mathematics achievement of students in schools (complete).

    Columns: ``schid`` (school, a string), ``minority`` and ``female`` (0/1), ``ses``,
    ``mathach``, and the school-level ``size``, ``schtype`` and ``meanses``.

    Returns
    -------
    pandas.DataFrame
        7185 rows; a fresh copy on every call.

    Examples
    --------
    >>> load_hsb().shape
    (7185, 8)
    """
    return _load("hsb.csv", dtype={"schid": str})
