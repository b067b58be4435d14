"""Declarative model files: a TOML file that says what to impute, how, and where to write it.

A model file (see ``models/`` in the repository)::

    [data]
    path = "brandsma"          # a bundled data set, or a CSV/Parquet file relative to this file

    [model]
    formula = ["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"]
    categorical = ["den"]

    [sampler]
    chains = 4
    draws = 1000
    m = 10
    random_seed = 1

    [output]                   # relative to `jmimpute run --out DIR` (default: here)
    long = "out/brandsma_long.csv"
    netcdf = "out/brandsma.nc"
    mplus = "out/mplus"        # the layouts analysis programs read: a folder for Mplus,
    stata = "out/brandsma.dta" # files for stata (.dta), spss (.sav) and r (.csv)

``[model]`` holds either the joint model's ``formula`` or an ``analysis`` formula (with
``auxiliary`` and ``cluster_means``), from which the substantive model is derived, as
``jm.impute(data, analysis=...)`` does (``models/brandsma_random_slope.toml``).

:func:`read_model_file` checks it completely before anything runs and returns a
:class:`ModelFile`; any problem raises :class:`ModelFileError` naming the key and its line.
Running it is the command line's job (:mod:`jmimpute.cli`).
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jmimpute.spec.exports import EXPORT_TARGETS
from jmimpute.spec.formula import FormulaError
from jmimpute.spec.model import ImputationSpec, build_spec, spec_arguments
from jmimpute.spec.parser import parse_terms
from jmimpute.spec.priors import Priors
from jmimpute.spec.terms import quote as quote_name

TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")

# table -> key -> (kind, required); kinds are checked by _check_kind
SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "data": {"path": ("str", True)},
    "model": {
        "formula": ("formula", False),
        "analysis": ("str", False),
        "auxiliary": ("names", False),
        "cluster_means": ("str", False),
        "categorical": ("names", False),
        "ordinal": ("names", False),
        "cluster_covariance": ("str", False),
        "method": ("str", False),
    },
    "priors": {
        "beta_sd": ("number", False),
        "sigma_sd": ("number", False),
        "sigma_eta": ("number", False),
        "psi_sd": ("number", False),
        "psi_eta": ("number", False),
        "sigma_cluster_sd": ("number", False),
    },
    "sampler": {
        "chains": ("int", False),
        "tune": ("int", False),
        "draws": ("int", False),
        "m": ("int", False),
        "random_seed": ("int", False),
        "sampler": ("str", False),
        "backend": ("str", False),
        "cores": ("int", False),
        "target_accept": ("number", False),
    },
    "missing": {
        "fraction": ("number", True),
        "columns": ("names", True),
        "seed": ("int", False),
        "cluster": ("str", False),
        "level2": ("names", False),
    },
    "output": {
        "long": ("str", False),
        "sets": ("str", False),
        "sets_format": ("str", False),
        "netcdf": ("str", False),
        "zarr": ("str", False),
        # the analysis programs' layouts (jmimpute.spec.exports)
        **dict.fromkeys(EXPORT_TARGETS, ("str", False)),
    },
}
REQUIRED_TABLES: tuple[str, ...] = ("data", "model")

_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "names": 'a list of column names, e.g. ["a", "b"]',
    "formula": 'a formula string or a list of two, e.g. ["y ~ 1 + (1|g)", "w ~ 1"]',
}
# build_spec names the argument in backticks; where each lives in the file
_ARGUMENT_KEY = {
    "formula": "model",
    "analysis": "model",
    "auxiliary": "model",
    "cluster_means": "model",
    "categorical": "model",
    "ordinal": "model",
    "cluster_covariance": "model",
    "method": "model",
    **dict.fromkeys(
        ("chains", "tune", "draws", "m", "sampler", "backend", "cores", "target_accept"), "sampler"
    ),
}


class ModelFileError(ValueError):
    """A model file that cannot be used, with the file, line and key of the problem.

    Attributes
    ----------
    path : pathlib.Path
    line : int or None
        1-based line of the problem in the file; None if it concerns something absent.
    key : str or None
        The offending key as ``table.key`` (or the table).
    """

    def __init__(self, path: Path, line: int | None, key: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class MissingSpec:
    """Values to delete completely at random before imputing (an exercise on complete data).

    Attributes
    ----------
    fraction : float
        Expected fraction deleted per column.
    columns : tuple of str
    seed : int
    cluster : str
        The cluster variable (default: the model's).
    level2 : tuple of str
        Columns deleted per cluster, so they stay constant within clusters (default: the
        ``columns`` that are level-2 targets of the model).
    """

    fraction: float
    columns: tuple[str, ...]
    seed: int
    cluster: str
    level2: tuple[str, ...]


@dataclass(frozen=True)
class OutputSpec:
    """Files to write, relative to the output folder.

    Attributes
    ----------
    long : pathlib.Path or None
        The stacked completed sets (``.csv`` or ``.parquet``).
    sets : pathlib.Path or None
        A folder for one file per completed set.
    sets_format : {"csv", "parquet"}
    netcdf, zarr : pathlib.Path or None
        The whole result, for :func:`jmimpute.load_imputation`.
    exports : tuple of (str, pathlib.Path)
        ``(package, path)`` for each analysis program's layout asked for (``mplus``,
        ``stata``, ``spss``, ``r``; :func:`jmimpute.results.handoff.export`).
    """

    long: Path | None = None
    sets: Path | None = None
    sets_format: str = "csv"
    netcdf: Path | None = None
    zarr: Path | None = None
    exports: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True)
class ModelFile:
    """A checked model file.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    data : str or pathlib.Path
        A bundled data set's name, or the data file (resolved against the model file).
    spec : ImputationSpec
        What to impute and how.
    random_seed : int or None
    missing : MissingSpec or None
    output : OutputSpec
    """

    path: Path
    data: str | Path
    spec: ImputationSpec
    random_seed: int | None
    missing: MissingSpec | None
    output: OutputSpec

    def impute_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`jmimpute.impute` (all but ``data`` and ``progressbar``)."""
        args = spec_arguments(self.spec)
        del args["progressbar"]
        if self.spec.analysis is not None:  # derived again from the data, as jm.impute does
            del args["formula"]
        return args | {"random_seed": self.random_seed}


# -- where things are in the file ------------------------------------------------------
_HEADER = re.compile(r"^\s*\[{1,2}\s*([^\[\]]+?)\s*\]{1,2}\s*(#.*)?$")
_BARE = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_BARE}(?:\s*\.\s*{_BARE})*)\s*=")


def _parts(dotted: str) -> list[str]:
    return [
        p.strip().strip("\"'") for p in re.split(r"\.(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)", dotted)
    ]


class _Lines:
    """Line numbers of tables and keys, found by scanning the text (tomllib gives none)."""

    def __init__(self, text: str) -> None:
        self.tables: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        table = ""
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:  # inside a multi-line string: no keys here
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(line)
            if header:
                parts = _parts(header.group(1))
                table = ".".join(parts)
                self.tables.setdefault(table, number)
                for depth in range(1, len(parts)):  # [a.b] defines key b of table a
                    self.keys.setdefault((".".join(parts[:depth]), parts[depth]), number)
                continue
            key = _KEY.match(line)
            if key:
                parts = _parts(key.group(1))
                for depth in range(len(parts)):
                    scope = ".".join(filter(None, [table, *parts[:depth]]))
                    self.keys.setdefault((scope, parts[depth]), number)
                    self.tables.setdefault(
                        ".".join(filter(None, [table, *parts[: depth + 1]])), number
                    )
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_string = quote

    def of(self, table: str, key: str | None = None) -> int | None:
        """The line of ``key`` in ``table``, else of the table, else None."""
        if key is not None and (table, key) in self.keys:
            return self.keys[(table, key)]
        return self.tables.get(table)


# -- checking ------------------------------------------------------------------------------
def _check_kind(kind: str, value: object) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "names":
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    if kind == "formula":
        return isinstance(value, str) or (
            isinstance(value, list)
            and 1 <= len(value) <= 2
            and all(isinstance(v, str) for v in value)
        )
    raise AssertionError(f"unknown kind {kind!r}")  # pragma: no cover


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)

    def error(self, table: str, key: str | None, message: str) -> ModelFileError:
        name = f"{table}.{key}" if key else table
        return ModelFileError(self.path, self.lines.of(table, key), name, message)

    def tables(self, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for table, body in doc.items():
            if table not in SCHEMA:
                raise self.error(
                    table,
                    None,
                    f"unknown table [{table}]; {_suggest(table, list(SCHEMA))}"
                    f"the tables are {', '.join(f'[{t}]' for t in SCHEMA)}",
                )
            if not isinstance(body, dict):
                raise self.error(
                    table,
                    None,
                    f"{table!r} must be a table ([{table}] with keys below it), "
                    f"got {type(body).__name__} {body!r}",
                )
            out[table] = self.keys(table, body)
        for table in REQUIRED_TABLES:
            if table not in out:
                keys = [k for k, (_, required) in SCHEMA[table].items() if required]
                raise self.error(
                    table,
                    None,
                    f"the required table [{table}] is missing; add it with the "
                    f"key(s) {', '.join(keys)}",
                )
        return out

    def keys(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        schema = SCHEMA[table]
        for key, value in body.items():
            if key not in schema:
                raise self.error(
                    table,
                    key,
                    f"unknown key {key!r} in [{table}]; {_suggest(key, list(schema))}"
                    f"valid keys are {', '.join(schema)}",
                )
            kind = schema[key][0]
            if not _check_kind(kind, value):
                raise self.error(
                    table,
                    key,
                    f"[{table}] {key} must be {_KIND_TEXT[kind]}; got "
                    f"{type(value).__name__} {value!r}",
                )
        for key, (_, required) in schema.items():
            if required and key not in body:
                raise self.error(table, None, f"[{table}] is missing the required key {key!r}")
        return body


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        line = int(found.group(1)) if found else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        column = f", column {found.group(2)}" if found else ""
        raise ModelFileError(path, line, None, f"invalid TOML{column}: {message}") from err


def _user_path(reader: _Reader, table: str, key: str, value: str) -> Path:
    """``value`` as a path with ``~`` expanded, or an error naming the key.

    ``Path.expanduser`` raises RuntimeError for ``~name`` when there is no user ``name``.
    """
    try:
        return Path(value).expanduser()
    except RuntimeError as err:
        raise reader.error(
            table,
            key,
            f"[{table}] {key} {value!r}: cannot expand '~' ({err}); write the path out, or "
            "make it relative to the model file",
        ) from err


def _data_source(reader: _Reader, value: str) -> str | Path:
    from jmimpute import datasets

    bundled = [name.removeprefix("load_") for name in datasets.__all__]
    if value in bundled:
        return value
    file = _user_path(reader, "data", "path", value)
    file = file if file.is_absolute() else reader.path.parent / file
    if file.suffix.lower().removeprefix(".") not in TABLE_FORMATS:
        raise reader.error(
            "data",
            "path",
            f"[data] path {value!r} is neither a bundled data set "
            f"({', '.join(bundled)}) nor a .csv or .parquet file",
        )
    if not file.is_file():
        raise reader.error(
            "data",
            "path",
            f"[data] path {value!r}: no such file {str(file)!r} (paths are "
            f"relative to the model file); bundled data sets are {', '.join(bundled)}",
        )
    return file


def _spec(
    reader: _Reader, model: dict[str, Any], priors: dict[str, Any], sampler: dict[str, Any]
) -> ImputationSpec:
    try:
        prior = Priors(**priors)
    except (TypeError, ValueError) as err:
        named = re.search(r"Priors\((\w+)=", str(err))
        key = named.group(1) if named else None
        raise reader.error("priors", key, f"[priors] {key or ''}: {err}") from err
    arguments = {k: v for k, v in sampler.items() if k != "random_seed"}
    model = _formula_or_analysis(reader, model)
    try:
        return build_spec(**model, priors=prior, **arguments)
    except FormulaError as err:
        raise reader.error("model", "formula", f"[model] formula: {err}") from err
    except (TypeError, ValueError) as err:
        named = re.search(r"`(\w+)`", str(err))
        argument = named.group(1) if named and named.group(1) in _ARGUMENT_KEY else "formula"
        if argument == "formula" and re.search(r"categorical|ordinal", str(err)):
            argument = "categorical"
        if argument in ("categorical", "ordinal") and argument not in model:
            argument = "ordinal" if argument == "categorical" else "categorical"
        table = _ARGUMENT_KEY[argument]
        raise reader.error(table, argument, f"[{table}] {argument}: {err}") from err


def _formula_or_analysis(reader: _Reader, model: dict[str, Any]) -> dict[str, Any]:
    """``[model]`` with exactly one of ``formula`` and ``analysis``.

    An ``analysis`` file's imputation formulas depend on the data (which variables are
    incomplete, which are level-2), so :func:`jmimpute.impute` derives them when it runs
    (after ``[missing]``); until then the spec holds a provisional layout, the outcome
    with a random intercept.
    """
    if ("formula" in model) == ("analysis" in model):
        raise reader.error(
            "model",
            "analysis" if "analysis" in model else None,
            "[model] needs exactly one of `formula` (the joint model, e.g. "
            "'lpo + iqv ~ 1 + (1|sch)') and `analysis` (the analysis model the imputation "
            "is derived from, e.g. 'lpo ~ iqv + (1 + iqv|sch)')",
        )
    if "analysis" not in model:
        return model
    try:
        parsed = parse_terms(model["analysis"])
    except FormulaError as err:
        raise reader.error("model", "analysis", f"[model] analysis: {err}") from err
    outcomes = [n for t in parsed.outcomes for n in t.variables]
    if len(outcomes) != 1 or len(parsed.random) != 1:
        raise reader.error(
            "model",
            "analysis",
            "[model] analysis needs one outcome and one random term, e.g. "
            "'lpo ~ iqv + (1 + iqv|sch)'",
        )
    provisional = f"{quote_name(outcomes[0])} ~ 1 + (1 | {quote_name(parsed.random[0].group)})"
    method = model.get("method", "substantive")
    return model | {"formula": provisional, "method": method}


def _names(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(dict.fromkeys(value))


def _missing(reader: _Reader, body: dict[str, Any], spec: ImputationSpec) -> MissingSpec:
    fraction = float(body["fraction"])
    if not (math.isfinite(fraction) and 0.0 <= fraction < 1.0):
        raise reader.error(
            "missing", "fraction", f"[missing] fraction must lie in [0, 1); got {fraction}"
        )
    columns = _names(body["columns"])
    if not columns:
        raise reader.error(
            "missing",
            "columns",
            "[missing] columns is empty; name the columns to delete values from",
        )
    seed = body.get("seed", 0)
    if seed < 0:
        raise reader.error("missing", "seed", f"[missing] seed must be >= 0; got {seed}")
    cluster = body.get("cluster", spec.cluster)
    if cluster in columns:
        raise reader.error(
            "missing",
            "columns",
            f"[missing] columns must not include the cluster variable {cluster!r}",
        )
    level2 = (
        _names(body["level2"])
        if "level2" in body
        else tuple(c for c in columns if c in spec.level2_targets)
    )
    stray = [c for c in level2 if c not in columns]
    if stray:
        raise reader.error(
            "missing",
            "level2",
            f"[missing] level2 names {stray}, which are not in columns {list(columns)}",
        )
    return MissingSpec(
        fraction=fraction, columns=columns, seed=seed, cluster=cluster, level2=level2
    )


def _output(reader: _Reader, body: dict[str, Any] | None, stem: str) -> OutputSpec:
    if body is None:
        return OutputSpec(long=Path(f"{stem}_long.csv"), netcdf=Path(f"{stem}.nc"))
    for key in ("long",):
        if key in body and Path(body[key]).suffix.lower().removeprefix(".") not in TABLE_FORMATS:
            raise reader.error(
                "output", key, f"[output] {key} {body[key]!r} must end in .csv or .parquet"
            )
    fmt = body.get("sets_format", "csv")
    if fmt not in TABLE_FORMATS:
        raise reader.error(
            "output",
            "sets_format",
            f"[output] sets_format must be one of {', '.join(map(repr, TABLE_FORMATS))}; "
            f"got {fmt!r}",
        )
    paths = {
        k: _user_path(reader, "output", k, body[k]) if k in body else None
        for k in ("long", "sets", "netcdf", "zarr")
    }
    return OutputSpec(sets_format=fmt, exports=_exports(reader, body), **paths)


def _exports(reader: _Reader, body: dict[str, Any]) -> tuple[tuple[str, Path], ...]:
    """The analysis programs' layouts asked for, each path checked against its exporter."""
    out = []
    for key, entry in EXPORT_TARGETS.items():
        if key not in body:
            continue
        path = _user_path(reader, "output", key, body[key])
        if not entry.takes(path):
            raise reader.error(
                "output",
                key,
                f"[output] {key} {body[key]!r} must end in {' or '.join(entry.suffixes)} "
                f"({entry.program}: {entry.layout})",
            )
        out.append((key, path))
    return tuple(out)


def read_model_file(path: str | Path) -> ModelFile:
    """Read and check a model file completely, before anything runs.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML file with the tables ``[data]`` and ``[model]`` (required) and
        ``[priors]``, ``[sampler]``, ``[missing]``, ``[output]`` (optional); see
        :data:`SCHEMA` and ``models/`` in the repository. Without ``[output]``,
        ``<name>_long.csv`` and ``<name>.nc`` are written.

    Returns
    -------
    ModelFile

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Text that is not UTF-8, invalid TOML, an unknown table or key, a value of the
        wrong type or out of range, a missing required key, or a formula that does not
        parse; the message names the key and the line.

    Examples
    --------
    >>> model = read_model_file("models/brandsma.toml")  # doctest: +SKIP
    >>> model.spec.m  # doctest: +SKIP
    10
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no model file {str(file)!r}")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:  # TOML is UTF-8; a Latin-1 file fails here
        raise ModelFileError(
            file, None, None, f"not UTF-8 text ({err.reason}); save the model file as UTF-8"
        ) from err
    reader = _Reader(file, text)
    tables = reader.tables(_toml(file, text))
    data = _data_source(reader, tables["data"]["path"])
    sampler = tables.get("sampler", {})
    spec = _spec(reader, tables["model"], tables.get("priors", {}), sampler)
    seed = sampler.get("random_seed")
    if seed is not None and seed < 0:
        raise reader.error(
            "sampler", "random_seed", f"[sampler] random_seed must be >= 0; got {seed}"
        )
    missing = _missing(reader, tables["missing"], spec) if "missing" in tables else None
    return ModelFile(
        path=file,
        data=data,
        spec=spec,
        random_seed=seed,
        missing=missing,
        output=_output(reader, tables.get("output"), file.stem),
    )
