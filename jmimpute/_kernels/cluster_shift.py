"""Binary latents as a per-cluster shift plus deviations: an Op pair, cheap in Numba.

In the collapsed model the random effects are integrated out, so the sampled latent
values of a cluster share its random intercept: along the direction that moves them all
together they spread over the random-intercept variance times the cluster's size, across
it over one latent variance. A diagonal mass matrix cannot rescale that direction, whose
coordinates are all the cluster's latents. Sampling each cluster's shift as a coordinate
of its own gives the mass matrix that direction to adapt.

For the ``n`` latents of one variable with cluster ``c_i`` (``n_j`` of them in cluster
``j``), NUTS samples ``shift`` (one per cluster) and ``dev`` (one per latent), and

    b_i = shift_{c_i} + dev_i - mean_{c_i},   mean_j = (1 / n_j) sum_{c_i = j} dev_i.

``(shift, dev) -> (b, mean)`` is linear and invertible (``shift_j`` is the mean of the
cluster's ``b``, and ``dev_i = b_i - shift_{c_i} + mean_{c_i}``), so with ``mean_j ~ N(0,
1 / n_j)`` added to the target (the model does so) the ``b`` keep exactly their old
posterior; the Jacobian is constant.

The same map written with PyTensor's gather and scatter-add (``AdvancedSubtensor1``,
``AdvancedIncSubtensor1``) goes through their general indexing code, which made an hsb
gradient markedly slower in an ad-hoc timing; these Ops are one loop each way in Numba,
with NumPy and JAX implementations for the other backends. ``tests/kernels/test_cluster_shift.py``
checks them against that formulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable


class ClusterShift(Op):
    """``(shift, dev, cluster, counts) -> (b, mean)``; see the module docstring.

    ``counts`` (float) holds each cluster's number of values, a constant of the graph.
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node from float vectors ``shift``, ``dev``, integer ``cluster``, ``counts``."""
        shift, dev = (pt.as_tensor_variable(x).astype("float64") for x in inputs[:2])
        cluster = pt.as_tensor_variable(inputs[2])
        counts = pt.as_tensor_variable(inputs[3]).astype("float64")
        if any(x.type.ndim != 1 for x in (shift, dev, cluster, counts)):
            raise TypeError("cluster_shift takes vectors shift, dev, cluster and counts")
        if not cluster.type.dtype.startswith("int"):
            raise TypeError(f"cluster_shift: cluster must be integer, got {cluster.type.dtype}")
        b = pt.tensor(dtype="float64", shape=dev.type.shape)
        mean = pt.tensor(dtype="float64", shape=shift.type.shape)
        return Apply(self, [shift, dev, cluster, counts], [b, mean])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with NumPy."""
        shift, dev, cluster, counts = inputs
        mean = np.bincount(cluster, weights=dev, minlength=counts.size) / counts
        output_storage[0][0] = shift[cluster] + dev - mean[cluster]
        output_storage[1][0] = mean

    def infer_shape(self, node: Apply, shapes: Sequence) -> list:
        """``b`` as ``dev``, ``mean`` as ``shift``."""
        return [shapes[1], shapes[0]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """``cluster`` and ``counts`` (constants) are connected to nothing."""
        return [[True, True], [True, True], [False, False], [False, False]]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """Cotangents of ``shift`` and ``dev`` by :class:`ClusterShiftGrad`."""
        _, _, cluster, counts = inputs
        g_b, g_mean = (
            out.zeros_like() if isinstance(g.type, DisconnectedType) else g
            for g, out in zip(cotangents, outputs, strict=True)
        )
        g_shift, g_dev = _cluster_shift_grad_op.make_node(g_b, g_mean, cluster, counts).outputs
        return [g_shift, g_dev, disconnected_type(), disconnected_type()]


class ClusterShiftGrad(Op):
    """Cotangents of :class:`ClusterShift`: ``(g_b, g_mean, cluster, counts) -> (g_shift, g_dev)``.

    ``g_shift_j = sum_{c_i = j} g_b_i`` and ``g_dev_i = g_b_i + (g_mean_j - g_shift_j) / n_j``
    with ``j = c_i``.
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node; the cotangents are cast to float64."""
        g_b, g_mean = (pt.as_tensor_variable(x).astype("float64") for x in inputs[:2])
        cluster, counts = (pt.as_tensor_variable(x) for x in inputs[2:])
        g_shift = pt.tensor(dtype="float64", shape=g_mean.type.shape)
        g_dev = pt.tensor(dtype="float64", shape=g_b.type.shape)
        return Apply(self, [g_b, g_mean, cluster, counts], [g_shift, g_dev])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with NumPy."""
        g_b, g_mean, cluster, counts = inputs
        g_shift = np.bincount(cluster, weights=g_b, minlength=counts.size)
        output_storage[0][0] = g_shift
        output_storage[1][0] = g_b + ((g_mean - g_shift) / counts)[cluster]

    def infer_shape(self, node: Apply, shapes: Sequence) -> list:
        """``g_shift`` as ``g_mean``, ``g_dev`` as ``g_b``."""
        return [shapes[1], shapes[0]]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """Not needed: NUTS takes first derivatives only."""
        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]


_cluster_shift_op = ClusterShift()
_cluster_shift_grad_op = ClusterShiftGrad()


def cluster_shift(
    shift: Any, dev: Any, cluster: np.ndarray
) -> tuple[TensorVariable, TensorVariable]:
    """``(b, mean)`` of the module docstring, as a :class:`ClusterShift` node.

    Parameters
    ----------
    shift : tensor, shape (J,)
    dev : tensor, shape (n,)
    cluster : ndarray of int, shape (n,)
        Cluster of each value, ``0 .. J - 1``; every cluster must have a value.
    """
    cluster = np.asarray(cluster)
    counts = np.bincount(cluster) if cluster.size else np.zeros(0, dtype=int)
    if cluster.ndim != 1 or cluster.size == 0 or np.any(counts == 0):
        raise ValueError("cluster_shift: every cluster 0 .. J - 1 needs at least one value")
    node = _cluster_shift_op.make_node(
        shift, dev, pt.constant(cluster.astype(np.int64)), pt.constant(counts.astype(float))
    )
    b, mean = node.outputs
    return cast(TensorVariable, b), cast(TensorVariable, mean)


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import basic as numba_basic

    from jmimpute._kernels.cache import source_key

    @numba_basic.numba_njit
    def sums_by_cluster(values, cluster, n_clusters):
        # four interleaved accumulators: consecutive values of one cluster (the usual,
        # sorted, data) would otherwise each wait for the previous one's store
        acc = np.zeros((4, n_clusters))
        n = values.shape[0]
        n4 = n - n % 4
        for i in range(0, n4, 4):
            acc[0, cluster[i]] += values[i]
            acc[1, cluster[i + 1]] += values[i + 1]
            acc[2, cluster[i + 2]] += values[i + 2]
            acc[3, cluster[i + 3]] += values[i + 3]
        for i in range(n4, n):
            acc[0, cluster[i]] += values[i]
        out = np.empty(n_clusters)
        for j in range(n_clusters):
            out[j] = (acc[0, j] + acc[1, j]) + (acc[2, j] + acc[3, j])
        return out

    @numba_basic.register_funcify_and_cache_key(ClusterShift)
    def _numba_shift(op: ClusterShift, node: Apply | None = None, **kwargs: Any) -> Any:
        @numba_basic.numba_njit
        def impl(shift, dev, cluster, counts):
            mean = sums_by_cluster(dev, cluster, counts.shape[0]) / counts
            b = np.empty(dev.shape[0])
            for i in range(dev.shape[0]):
                c = cluster[i]
                b[i] = shift[c] + dev[i] - mean[c]
            return b, mean

        return impl, source_key("cluster-shift", "cluster_shift.py")

    @numba_basic.register_funcify_and_cache_key(ClusterShiftGrad)
    def _numba_grad(op: ClusterShiftGrad, node: Apply | None = None, **kwargs: Any) -> Any:
        @numba_basic.numba_njit
        def impl(g_b, g_mean, cluster, counts):
            g_shift = sums_by_cluster(g_b, cluster, counts.shape[0])
            step = (g_mean - g_shift) / counts
            g_dev = np.empty(g_b.shape[0])
            for i in range(g_b.shape[0]):
                g_dev[i] = g_b[i] + step[cluster[i]]
            return g_shift, g_dev

        return impl, source_key("cluster-shift-grad", "cluster_shift.py")


def _register_jax() -> None:
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(ClusterShift)
    def _jax_shift(op: ClusterShift, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax

        def impl(shift, dev, cluster, counts):
            mean = jax.ops.segment_sum(dev, cluster, num_segments=counts.shape[0]) / counts
            return shift[cluster] + dev - mean[cluster], mean

        return impl

    @jax_funcify.register(ClusterShiftGrad)
    def _jax_grad(op: ClusterShiftGrad, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax

        def impl(g_b, g_mean, cluster, counts):
            g_shift = jax.ops.segment_sum(g_b, cluster, num_segments=counts.shape[0])
            return g_shift, g_b + ((g_mean - g_shift) / counts)[cluster]

        return impl


_register_numba()
_register_jax()
