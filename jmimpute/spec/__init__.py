"""What the user asked for: parsed formulas, priors and the imputation specification.

Nothing in this subpackage imports PyMC; the backend turns a specification into a model.
"""

from jmimpute.spec.formula import Formula, FormulaError, parse_formula
from jmimpute.spec.model import ImputationSpec, SamplerSettings, build_spec
from jmimpute.spec.priors import Priors

__all__ = [
    "Formula",
    "FormulaError",
    "ImputationSpec",
    "Priors",
    "SamplerSettings",
    "build_spec",
    "parse_formula",
]
