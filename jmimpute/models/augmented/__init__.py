"""Data augmentation for categorical targets: NUTS on the parameters, exact latent draws.

``build`` makes the parameter model (the collapsed likelihood of the data completed by the
latents); ``sweep`` and ``truncated`` draw the latents and rebuild the statistics (Numba),
with random numbers from ``generator``; ``effects`` draws the random effects; ``move`` ties
them into one chain's move (docs/design/categorical-at-scale.md).
"""
