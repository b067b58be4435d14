"""The substantive model: imputation compatible with an analysis model (one formula)."""

from jmimpute.models.substantive.model import SampledSubstantiveModel, SubstantiveModel

__all__ = ["SampledSubstantiveModel", "SubstantiveModel"]
