"""The substantive model: imputation compatible with an analysis model (one formula)."""

from jmimpute.models.substantive.model import SubstantiveModel

__all__ = ["SubstantiveModel"]
