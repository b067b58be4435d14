"""How a built model is sampled: NUTS (nutpie or PyMC), watched at checkpoints."""
