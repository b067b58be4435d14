"""The ``jmimpute`` command: run a model file, or summarise the missing values of a data set.

::

    jmimpute run models/brandsma.toml --out results/
    jmimpute summary brandsma --cluster sch --vars lpo iqv den

Progress goes to the log (standard error); the summaries, the commands' output, to
standard output. Exit status 0 on success, 2 for a bad model file or argument, 1 for a
failure while running.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from jmimpute._version import __version__
from jmimpute.spec.formula import FormulaError
from jmimpute.spec.modelfile import ModelFile, ModelFileError, read_model_file

_log = logging.getLogger("jmimpute")
_NOISY = ("pytensor", "numba", "arviz", "jax", "nutpie")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jmimpute",
        description="Bayesian joint-model multiple imputation of multilevel data.",
    )
    parser.add_argument("--version", action="version", version=f"jmimpute {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log only warnings")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="impute as a model file says and write the results",
        description="Read a TOML model file (see models/), impute, write the files its "
        "[output] table names and print the summary.",
    )
    run.add_argument("model", type=Path, help="the model file (.toml)")
    run.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder that relative [output] paths are written under (default: here)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    summary = commands.add_parser(
        "summary",
        help="missing values per variable and per pattern, and complete rows",
        description="Print the missingness summary of a data set: per variable, the "
        "missing-data patterns (mice's md.pattern) and the rows left by listwise deletion.",
    )
    summary.add_argument(
        "data", help="a CSV or Parquet file, or a bundled data set (brandsma, hsb)"
    )
    summary.add_argument("--cluster", help="the cluster variable")
    summary.add_argument("--vars", nargs="+", metavar="VAR", help="variables (default: all)")
    summary.add_argument(
        "--level2", nargs="+", metavar="VAR", help="level-2 variables (default: detected)"
    )
    return parser


def _logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    root = logging.getLogger("jmimpute")
    root.handlers = [h for h in root.handlers if not getattr(h, "_jmimpute_cli", False)]
    handler._jmimpute_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_model(model: ModelFile, out: Path, *, progressbar: bool = True) -> list[Path]:
    """Impute as ``model`` says, write its outputs under ``out``; return the files written."""
    from jmimpute.diagnostics import ConvergenceWarning
    from jmimpute.inputs import load_model_data
    from jmimpute.pipeline import impute

    data = load_model_data(model)
    spec = model.output
    _check_export_names(spec.exports, [str(c) for c in data.columns])
    with warnings.catch_warnings():
        # impute() logs the same message; the summary below shows the verdict too
        warnings.simplefilter("ignore", ConvergenceWarning)
        imp = impute(data, **model.impute_arguments(), progressbar=progressbar)
    written: list[Path] = []
    if spec.long is not None:
        imp.to_long(out / spec.long)
        written.append(out / spec.long)
    if spec.sets is not None:
        written.extend(imp.to_sets(out / spec.sets, spec.sets_format))
    if spec.netcdf is not None:
        written.append(imp.to_netcdf(out / spec.netcdf))
    if spec.zarr is not None:
        written.append(imp.to_zarr(out / spec.zarr))
    for package, path in spec.exports:  # after the archives, which keep the whole result
        written.extend(imp.export(package, out / path))
    print(imp.summary())
    return written


def _check_export_names(exports: tuple[tuple[str, Path], ...], columns: list[str]) -> None:
    """Refuse column names an [output] program cannot read before imputing, not after."""
    from jmimpute.results.handoff import EXPORTS

    for package, _ in exports:
        try:
            EXPORTS[package].check(columns)
        except ValueError as err:
            raise ValueError(
                f"[output] {package}: {err}. `jmimpute run` writes the columns as they are: "
                "rename them in the data file, or export from Python with imp.export(..., "
                "rename=...)"
            ) from err


def _summary(args: argparse.Namespace) -> None:
    from jmimpute.inputs import read_data
    from jmimpute.missingness import missingness

    data = read_data(args.data)
    print(missingness(data, args.vars, cluster=args.cluster, level2=args.level2))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jmimpute`` command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    _logging(args.verbose, args.quiet)
    try:
        if args.command == "run":
            model = read_model_file(args.model)
            _log.info(
                "model file %s: %s, m = %d", model.path, model.spec.formula_text, model.spec.m
            )
            run_model(model, args.out, progressbar=not args.no_progress)
        else:
            _summary(args)
    except (ModelFileError, FormulaError, FileNotFoundError, ImportError) as err:
        print(f"jmimpute: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:
        print(f"jmimpute {args.command}: error: {err}", file=sys.stderr)
        return 2 if args.command == "summary" else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
