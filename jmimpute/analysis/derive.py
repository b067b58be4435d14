"""Variables derived from imputed values, recomputed on every completed data set.

Cluster means and cluster-mean centring of an incomplete variable must be computed after
imputation, from the imputed values, never from the incomplete data (FIMD section 7.10).
Pass them as ``derive={"iqm": jm.cluster_mean("iqv")}`` to :func:`jmimpute.analyze`, or
attach them with ``imp.with_columns(iqm=jm.cluster_mean("iqv"))``; any callable taking the
completed DataFrame and returning a column works too (``lambda d: d.iqv * d.ses``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

DeriveFunction = Callable[[pd.DataFrame], object]


@dataclass(frozen=True)
class ClusterStatistic:
    """A per-cluster statistic of a variable, broadcast to the rows (see the helpers)."""

    variable: str
    by: str | None
    centre: bool

    def compute(self, data: pd.DataFrame, cluster: str | None) -> pd.Series:
        """Evaluate on one completed data set; ``cluster`` is the imputation model's."""
        by = self.by or cluster
        if by is None:
            raise ValueError(
                f"cannot compute the cluster mean of {self.variable!r}: give the cluster "
                f"variable, e.g. cluster_mean({self.variable!r}, by='sch')"
            )
        for name in (self.variable, by):
            if name not in data.columns:
                raise ValueError(
                    f"cannot derive from {name!r}: it is not a column of the completed data"
                )
        means = data.groupby(by, sort=False, observed=True)[self.variable].transform("mean")
        return data[self.variable] - means if self.centre else means


def cluster_mean(variable: str, by: str | None = None) -> ClusterStatistic:
    """The cluster mean of ``variable`` on every row (e.g. FIMD's ``iqm``).

    Parameters
    ----------
    variable : str
    by : str, optional
        Cluster variable; defaults to the imputation model's.

    Returns
    -------
    ClusterStatistic
    """
    return ClusterStatistic(variable, by, centre=False)


def cluster_centre(variable: str, by: str | None = None) -> ClusterStatistic:
    """``variable`` minus its cluster mean (centring within cluster)."""
    return ClusterStatistic(variable, by, centre=True)


def apply_derived(
    data: pd.DataFrame,
    derived: Mapping[str, ClusterStatistic | DeriveFunction],
    cluster: str | None,
) -> pd.DataFrame:
    """Add the derived columns to a completed data set (in order; later may use earlier).

    Raises
    ------
    ValueError
        Naming the derived variable whose computation failed.
    """
    for name, how in derived.items():
        try:
            value: object = (
                how.compute(data, cluster) if isinstance(how, ClusterStatistic) else how(data)
            )
        except Exception as err:
            raise ValueError(f"computing the derived variable {name!r} failed: {err}") from err
        values = value.to_numpy() if isinstance(value, pd.Series) else np.asarray(value)
        if values.shape != (len(data),):
            raise ValueError(
                f"the derived variable {name!r} must give one value per row ({len(data)}), "
                f"got shape {values.shape}"
            )
        data[name] = values
    return data


def check_derived(derived: object) -> dict[str, ClusterStatistic | DeriveFunction]:
    """Validate a ``derive`` argument."""
    if derived is None:
        return {}
    if not isinstance(derived, Mapping):
        raise TypeError(
            "`derive` must map new column names to jm.cluster_mean(...), "
            f"jm.cluster_centre(...) or a function of the data; got {type(derived).__name__}"
        )
    out: dict[str, ClusterStatistic | DeriveFunction] = {}
    for name, how in derived.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"`derive` keys must be column names; got {name!r}")
        if not (isinstance(how, ClusterStatistic) or callable(how)):
            raise TypeError(
                f"`derive[{name!r}]` must be jm.cluster_mean(...), jm.cluster_centre(...) or a "
                f"function of the completed data; got {type(how).__name__}"
            )
        out[name] = how
    return out
