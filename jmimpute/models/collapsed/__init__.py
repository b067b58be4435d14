"""The collapsed joint model: random effects and missing cells integrated out of NUTS."""
