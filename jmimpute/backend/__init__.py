"""How the model is sampled: PyMC models, the compiled likelihood, NUTS, exact draws.

Only this subpackage imports PyMC, PyTensor, Numba and JAX.
"""
