"""The explicit-latent joint model: NUTS samples random effects and missing cells too."""

from jmimpute.models.latent.model import LatentModel

__all__ = ["LatentModel"]
