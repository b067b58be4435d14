"""The dims of the joint models' parameters, named once for the trace and the result."""

from __future__ import annotations

from jmimpute.design.standardised import Design

DIMS: dict[str, tuple[str, ...]] = {
    "beta": ("covariate", "variable"),
    "sigma": ("variable", "variable_2"),
    "psi": ("effect", "effect_2"),
    "gamma": ("covariate2", "variable2"),
}
"""The dims of each parameter, the same in the sampler's trace and the result's posterior."""


def model_coords(design: Design) -> dict[str, list[str]]:
    """The coordinates of :data:`DIMS` for ``design``."""
    coords = {
        "covariate": list(design.x_names),
        "variable": list(design.targets),
        "variable_2": list(design.targets),
        "effect": list(design.effect_names),
        "effect_2": list(design.effect_names),
    }
    if design.level2 is not None:
        coords |= {
            "covariate2": list(design.level2.v_names),
            "variable2": list(design.level2.targets.dims),
        }
    return coords
