"""Every plot renders to a readable, non-empty PNG, and bad arguments are named."""

import warnings

import matplotlib
import numpy as np
import pytest
from PIL import Image

import jmimpute as jm

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def imp():
    """brandsma with continuous (lpo, iqv), binary (hi) level-1 and nominal level-2 (den)."""
    data = jm.datasets.load_brandsma()
    data["hi"] = np.where(data["apo"].isna(), np.nan, (data["apo"] > 20).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return jm.impute(
            data,
            ["lpo + iqv + hi ~ 1 + (1|sch)", "den ~ 1"],
            categorical=["den", "hi"],
            m=3,
            chains=2,
            tune=100,
            draws=100,
            random_seed=5,
            progressbar=False,
            backend="jax",  # compiles in seconds; these tests look at plots, not speed
        )


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def assert_png(fig, path, n_axes):
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= n_axes
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 5_000
    with Image.open(path) as image:
        width, height = image.size
    assert width > 100 and height > 100


@pytest.mark.parametrize(
    ("plot", "kwargs", "n_axes"),
    [
        (jm.plots.plot_trace, {}, 2 * 25),
        (jm.plots.plot_trace, {"var_names": ["fixed effects", "sigma[iqv, lpo]"]}, 2 * 4),
        (jm.plots.plot_rank, {"var_names": ["psi"]}, 15),
        (jm.plots.plot_densities, {}, 2),
        (jm.plots.plot_categories, {}, 2),
        (jm.plots.plot_level2, {}, 4),
        (jm.plots.plot_level2, {"variables": ["den"], "against": "ses"}, 1),
    ],
)
def test_plot_renders_png(imp, tmp_path, plot, kwargs, n_axes):
    fig = plot(imp, **kwargs)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert_png(fig, tmp_path / "plot.png", n_axes)


def test_densities_draw_observed_once_and_each_set(imp):
    fig = jm.plots.plot_densities(imp, ["lpo"])
    (ax,) = fig.axes
    colours = [line.get_color() for line in ax.get_lines()]
    assert colours.count("tab:blue") == 1 and colours.count("tab:red") == imp.m


def test_categories_shares_sum_to_one(imp):
    fig = jm.plots.plot_categories(imp, ["den"])
    (ax,) = fig.axes
    heights = np.array([p.get_height() for p in ax.patches]).reshape(imp.m + 1, -1)
    np.testing.assert_allclose(heights.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("plot", "kwargs", "message"),
    [
        (jm.plots.plot_densities, {"variables": ["den"]}, r"continuous targets.*\['iqv', 'lpo'\]"),
        (jm.plots.plot_categories, {"variables": ["lpo"]}, "categorical targets"),
        (jm.plots.plot_level2, {"against": "nope"}, "`against` must be a numeric column"),
        (jm.plots.plot_trace, {"var_names": ["alpha"]}, r"`var_names` has \['alpha'\]"),
        (jm.plots.plot_densities, {"ncols": 0}, "`ncols` must be a positive integer"),
    ],
)
def test_bad_arguments_are_named(imp, plot, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot(imp, **kwargs)
