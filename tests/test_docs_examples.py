"""The model files the documentation shows (examples/blimp/): each loads and fits its data.

Nothing is sampled: each file is read by the model-file loader, its data are read, and
the model is checked against them (an analysis formula is laid out as the substantive
model would be; a joint model's targets are validated), which refuses what cannot run.
"""

from pathlib import Path

import pytest

from jmimpute.inputs import load_model_data
from jmimpute.spec.modelfile import read_model_file
from jmimpute.spec.validate import check_data_frame, validate

BLIMP = sorted((Path(__file__).parents[1] / "examples" / "blimp").glob("*.toml"))


def test_the_translations_are_there():
    assert len(BLIMP) >= 4, BLIMP


@pytest.mark.parametrize("path", BLIMP, ids=lambda p: p.stem)
def test_blimp_translation_loads(path):
    model = read_model_file(path)
    assert model.spec.m == 20
    assert model.random_seed == 90291
    assert model.output.long is not None or model.output.sets is not None


@pytest.mark.parametrize("path", BLIMP, ids=lambda p: p.stem)
def test_blimp_translation_fits_its_data(path):
    model = read_model_file(path)
    spec = model.spec
    data = load_model_data(model)
    if spec.analysis is None:
        validate(data, spec)
        return
    from jmimpute.models.substantive.structure import derive_structure

    structure = derive_structure(
        spec.analysis,
        check_data_frame(data),
        auxiliary=spec.auxiliary,
        categorical=(*spec.categorical, *spec.ordinal),
        cluster_means=spec.cluster_means,
    )
    assert structure.imputation_formulas()
