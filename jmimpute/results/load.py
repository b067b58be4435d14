"""Read a result file back into an :class:`~jmimpute.results.imputation.Imputation`."""

from __future__ import annotations

from jmimpute.results.archive import read_result
from jmimpute.results.imputation import Imputation
from jmimpute.spec.validate import validate
from jmimpute.tables import StrPath


def load_imputation(path: StrPath) -> Imputation:
    """Read a result written by ``imp.to_netcdf`` or ``imp.to_zarr``.

    Parameters
    ----------
    path : str or path-like
        A netCDF file, or a Zarr store (a folder). Files written before the result's
        DataTree followed ArviZ's groups (file format 1) are read too.

    Returns
    -------
    Imputation
        Equal to the one saved: the same completed sets, posterior and specification
        (derived variables that were Python functions are not saved). It is built and
        compiled again on its first refit.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path`` (naming an unfinished write of it beside it, if any).
    ValueError
        Naming the file, what it is and what to do: a truncated or empty file, a CSV or
        another file that is not netCDF-4, a folder that is not a Zarr store, a netCDF
        file that is not a jmimpute result, or one written by a newer jmimpute.

    Examples
    --------
    >>> imp.to_netcdf("brandsma.nc")  # doctest: +SKIP
    >>> imp = jm.load_imputation("brandsma.nc")  # doctest: +SKIP
    """
    data, spec, tree, derived = read_result(path)
    frame, level1, level2 = validate(data, spec)
    return Imputation(frame, spec, tree, dict(derived), variables=(level1, level2))
