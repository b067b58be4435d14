"""The explicit-latent joint model: NUTS samples random effects and missing cells too."""
