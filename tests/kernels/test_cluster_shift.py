"""ClusterShift equals the same map written with PyTensor's gather and scatter-add."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute._kernels.cluster_shift import cluster_shift


def _reference(shift, dev, cluster, counts):
    mean = pt.inc_subtensor(pt.zeros(counts.size)[cluster], dev) / counts
    return shift[cluster] + dev - mean[cluster], mean


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_value_and_gradient_match_gather_scatter(mode):
    rng = np.random.default_rng(0)
    # unsorted clusters of unequal sizes, one of a single value
    cluster = rng.permutation(np.repeat(np.arange(4), [5, 1, 3, 7]))
    counts = np.bincount(cluster).astype(float)
    shift, dev = pt.dvector("shift"), pt.dvector("dev")
    weights_b, weights_m = rng.normal(size=cluster.size), rng.normal(size=4)

    def cost(b, mean):
        # both outputs used, nonlinearly, so both cotangents matter
        return (pt.sin(b) * weights_b).sum() + (mean**2 * weights_m).sum()

    b, mean = cluster_shift(shift, dev, cluster)
    b_ref, mean_ref = _reference(shift, dev, cluster, counts)
    ours, ref = cost(b, mean), cost(b_ref, mean_ref)
    grads = [*pytensor.grad(ours, [shift, dev]), *pytensor.grad(ref, [shift, dev])]
    fn = pytensor.function([shift, dev], [b, mean, b_ref, mean_ref, *grads], mode=mode)
    x, y = rng.normal(size=4), rng.normal(size=cluster.size)
    b_v, m_v, b_r, m_r, gs, gd, gs_r, gd_r = fn(x, y)
    np.testing.assert_allclose(b_v, b_r, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(m_v, m_r, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gs, gs_r, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gd, gd_r, rtol=1e-12, atol=1e-13)
    # the map keeps each cluster's mean of b at its shift
    np.testing.assert_allclose(np.bincount(cluster, b_v) / counts, x, rtol=1e-12)


def test_only_one_output_used():
    """An unused output reaches the gradient as disconnected; it counts as zero."""
    rng = np.random.default_rng(1)
    cluster = np.array([0, 1, 1, 2, 0, 2, 2])
    shift, dev = pt.dvector("shift"), pt.dvector("dev")
    b, _ = cluster_shift(shift, dev, cluster)
    b_ref, _ = _reference(shift, dev, cluster, np.bincount(cluster).astype(float))
    fn = pytensor.function(
        [shift, dev],
        [
            *pytensor.grad((b**2).sum(), [shift, dev]),
            *pytensor.grad((b_ref**2).sum(), [shift, dev]),
        ],
        mode="NUMBA",
    )
    gs, gd, gs_r, gd_r = fn(rng.normal(size=3), rng.normal(size=7))
    np.testing.assert_allclose(gs, gs_r, rtol=1e-12)
    np.testing.assert_allclose(gd, gd_r, rtol=1e-12)


def test_empty_cluster_is_refused():
    with pytest.raises(ValueError, match=r"every cluster 0 \.\. J - 1 needs at least one value"):
        cluster_shift(pt.dvector("s"), pt.dvector("d"), np.array([0, 2, 2]))


def test_op_refuses_non_vectors_and_float_clusters():
    from jmimpute._kernels.cluster_shift import ClusterShift

    vec = pt.dvector
    with pytest.raises(TypeError, match="cluster must be integer, got float64"):
        ClusterShift()(vec("s"), vec("d"), vec("c"), vec("n"))
    with pytest.raises(TypeError, match="takes vectors shift, dev, cluster and counts"):
        ClusterShift()(pt.dmatrix("s"), vec("d"), pt.lvector("c"), vec("n"))
