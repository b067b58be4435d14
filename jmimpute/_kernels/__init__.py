"""How the likelihood is made fast (private): the compiled kernel and the small Ops.

The collapsed log-likelihood and its gradient are a hand-written Numba kernel behind one C
entry point and one PyTensor Op; the matrix helpers here are Ops or unrolled graphs that
compile quickly. Nothing here knows about formulas, data frames or results.
"""
