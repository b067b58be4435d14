"""The analysis half of the verb chain: fit a model to every completed set, then pool."""

from jmimpute.analysis.derive import cluster_centre, cluster_mean

__all__ = ["cluster_centre", "cluster_mean"]
