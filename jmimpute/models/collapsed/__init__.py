"""The collapsed joint model: random effects and missing cells integrated out of NUTS."""

from jmimpute.models.collapsed.model import CollapsedModel

__all__ = ["CollapsedModel"]
