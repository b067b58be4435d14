"""The imputation models, each behind one protocol (:mod:`jmimpute.models.protocol`).

:data:`MODELS` finds a model by the ``method`` a user chose. Importing this package is
light: a model imports PyMC only when it builds.
"""

from __future__ import annotations

from jmimpute.models.augmented.model import AugmentedModel
from jmimpute.models.collapsed import CollapsedModel
from jmimpute.models.latent import LatentModel
from jmimpute.models.protocol import BuiltModel, ImputationModel, ParameterDraws, ParameterGroup
from jmimpute.models.substantive import SampledSubstantiveModel, SubstantiveModel

MODELS: dict[str, ImputationModel] = {
    model.name: model
    for model in (
        CollapsedModel(),
        LatentModel(),
        SubstantiveModel(),
        SampledSubstantiveModel(),
        AugmentedModel(),
    )
}
"""Every imputation model by name (``spec.method``)."""


def model_for(method: str) -> ImputationModel:
    """The model registered as ``method``.

    Parameters
    ----------
    method : str
        A key of :data:`MODELS` (``spec.method``).

    Returns
    -------
    ImputationModel

    Raises
    ------
    ValueError
        Naming the method and the registered ones.
    """
    try:
        return MODELS[method]
    except KeyError:
        raise ValueError(
            f"no imputation model is registered as method={method!r}; the methods are "
            f"{', '.join(map(repr, MODELS))}"
        ) from None


__all__ = [
    "MODELS",
    "BuiltModel",
    "ImputationModel",
    "ParameterDraws",
    "ParameterGroup",
    "model_for",
]
