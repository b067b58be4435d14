"""What the user asked for: formulas and their terms, priors, the specification, model files.

Also the checks of the data against the specification (:mod:`.validate`) and each
target's kind (:mod:`.variables`). Nothing here imports PyMC (a test holds it to that);
:mod:`jmimpute.models` turns a specification into a model.
"""

from jmimpute.spec.formula import Formula, FormulaError, ParsedFormula, parse_formula, parse_terms
from jmimpute.spec.model import ImputationSpec, SamplerSettings, build_spec, specify
from jmimpute.spec.modelfile import ModelFile, ModelFileError, read_model_file
from jmimpute.spec.priors import Priors

__all__ = [
    "Formula",
    "FormulaError",
    "ImputationSpec",
    "ModelFile",
    "ModelFileError",
    "ParsedFormula",
    "Priors",
    "SamplerSettings",
    "build_spec",
    "parse_formula",
    "parse_terms",
    "read_model_file",
    "specify",
]
