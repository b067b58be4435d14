"""Helpers shared by the likelihood tests."""

import numpy as np

from jmimpute.backend.kernel import collapsed_value_and_grad
from jmimpute.backend.ops import stats_inputs


def kernel(prob, lsig=None, lpsi=None, beta=None):
    lsig = prob.lsig if lsig is None else lsig
    lpsi = prob.lpsi if lpsi is None else lpsi
    beta = prob.beta if beta is None else beta
    grads = [np.zeros_like(lsig), np.zeros_like(lpsi), np.zeros_like(beta)]
    ins = stats_inputs(prob.stats)
    value = collapsed_value_and_grad(lsig, lpsi, beta, *ins[:-1], float(ins[-1]), *grads)
    return value, grads
