"""Property-based tests of the model-file loader: whatever the file, only the documented errors.

:func:`read_model_file` documents ``FileNotFoundError`` and ``ModelFileError``; any other
exception on a generated file (TOML-ish text built from the schema's tables and keys with
values of every kind, junk lines and stray bytes) is a loader bug. Most files are
refused; a valid base with generated optional tables makes the checks behind the first
ones run too.

Derandomised with a fixed number of examples, so that CI runs the same examples each time
(no example database is written).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jmimpute.spec.modelfile import SCHEMA, ModelFileError, read_model_file

PROPERTIES = settings(max_examples=300, deadline=None, derandomize=True, database=None)

FORMULAS = [
    *["lpo + iqv ~ 1 + (1|sch)", "den ~ 1", "lpo ~ iqv + (1 + iqv|sch)", "y ~", "~ 1", ""],
    *["lpo ~ 1 + (1|sch) + (1|den)", "lpo ~ mean(iqv) + (1|sch)", "lpo ~ iqv*ses + (1|sch)"],
    *["lpo + iqv ~ ses + (ses|sch)", "sch ~ 1 + (1|sch)", "(", "lpo~1+(1|den)", "den + ses ~ 1"],
]
WORDS = [
    *["lpo", "iqv", "sch", "den", "ses", "", "a b", "brandsma", "hsb", "d.csv", "nope.csv"],
    *["x.txt", "~nosuchuser/d.csv", "nutpie", "pymc", "numba", "jax", "substantive", "joint"],
    *["unstructured", "diagonal", "out/a.csv", "out/a.parquet", "parquet", "csv", "a.nc"],
]


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string


scalar = st.one_of(
    st.integers(-3, 5000).map(str),
    st.floats(-10, 10, allow_nan=False).map(repr),
    st.sampled_from(["true", "false", "nan", "inf", "-inf", "1e400", "2024-01-01"]),
    st.sampled_from(FORMULAS + WORDS).map(_string),
    st.text(max_size=8).map(_string),
)
array = st.lists(scalar, max_size=3).map(lambda v: "[" + ", ".join(v) + "]")
formula_array = st.lists(st.sampled_from(FORMULAS).map(_string), min_size=1, max_size=3)
value = st.one_of(
    scalar,
    array,
    formula_array.map(lambda v: "[" + ", ".join(v) + "]"),
    st.sampled_from(["{a = 1}", "[[1], [2]]", '"""\nmulti\n"""']),
)


def _table(name: str) -> st.SearchStrategy[str]:
    keys = [*SCHEMA.get(name, {"k": ("str", False)}), "bogus", "formula", '"quoted"', "a.b"]
    pairs = st.dictionaries(st.sampled_from(keys), value, max_size=6)
    return pairs.map(lambda kv: f"[{name}]\n" + "\n".join(f"{k} = {v}" for k, v in kv.items()))


tables = st.sampled_from([*SCHEMA, "extra", "data.sub", "model.x"]).flatmap(_table)
junk = st.sampled_from(["", "# comment", "x = ", "[", "[[output]]", "= 1", "[data]", "a.b.c = 1"])
anything = st.lists(st.one_of(tables, junk), max_size=7).map("\n".join)
# each optional table at most once, so that most of these files are valid TOML
optional = st.lists(
    st.sampled_from([t for t in SCHEMA if t not in ("data", "model")]), max_size=3, unique=True
).flatmap(lambda names: st.tuples(*map(_table, names)).map("\n".join))
valid_base = st.builds(
    lambda formula, extra: f'[data]\npath = "brandsma"\n[model]\nformula = {formula}\n{extra}',
    st.one_of(
        st.sampled_from(FORMULAS).map(_string), formula_array.map(", ".join).map("[{}]".format)
    ),
    optional,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("modelfiles")
    (path / "d.csv").write_text("y,x,g\n1,2,3\n")
    return path


@PROPERTIES
@given(
    text=st.one_of(anything, valid_base, valid_base),
    tail=st.sampled_from([b"", b"", b"", b"\n\xff\xfe", b"\x00"]),
)
def test_read_model_file_raises_only_model_file_errors(folder, text, tail):
    path = folder / "model.toml"
    path.write_bytes(text.encode("utf-8") + tail)
    try:
        model = read_model_file(path)
    except ModelFileError as err:
        assert str(err).startswith(str(path))  # it names the file (and the line, if any)
        return
    assert model.spec.formula_text and model.path == path


def test_a_home_folder_that_does_not_exist_is_a_model_file_error(folder):
    """Found by the property above: ``Path.expanduser`` raises RuntimeError for ``~nobody``."""
    path = folder / "home.toml"
    path.write_text('[data]\npath = "~nosuchuser/d.csv"\n[model]\nformula = "lpo ~ 1 + (1|sch)"\n')
    with pytest.raises(ModelFileError, match=r"line 2: \[data\] path '~nosuchuser/d.csv'.*'~'"):
        read_model_file(path)


def test_text_that_is_not_utf8_is_a_model_file_error(folder):
    path = folder / "latin1.toml"
    path.write_bytes('[data]\npath = "brandsma" # é\n'.encode("latin-1"))
    with pytest.raises(ModelFileError, match=r"not UTF-8 text.*save the model file as UTF-8"):
        read_model_file(path)
