"""What the explicit-latent model samples per unit, named for its build and its class."""

SAMPLED = ("u_s", "y_missing", "w_missing")
"""The random effects and missing values NUTS samples: per unit, read for the imputations
and never judged for convergence."""
