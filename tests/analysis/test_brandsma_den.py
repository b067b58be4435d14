"""brandsma with the level-2 nominal `den` imputed jointly, against jomoImpute (slow).

Imputation: ``[lpo + iqv ~ 1 + (1|sch), den ~ 1]`` with den categorical (jomo's model);
analysis ``lpo ~ 1 + iqv + factor(den) + (1|sch)`` (ML), pooled with Rubin's rules.
"""

import pytest

import jmimpute as jm

# jomoImpute, n.burn 5000, n.iter 100, m 10 (docs/reference.md): term -> (est, s.e.).
# den is a float column in brandsma (its missing values are NaN), so its levels print as 2.0.
JOMO = {
    "(Intercept)": (39.970, 0.419),
    "iqv": (2.522, 0.052),
    "den[2.0]": (2.272, 0.586),
    "den[3.0]": (0.340, 0.616),
    "den[4.0]": (2.014, 1.136),
}


@pytest.fixture(scope="module")
def den_imputation():
    data = jm.datasets.load_brandsma()
    return jm.impute(
        data,
        ["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"],
        categorical=["den"],
        m=20,
        random_seed=5,
        progressbar=False,
    )


@pytest.mark.slow
def test_den_imputations_converge(den_imputation):
    table = den_imputation.rhat()
    assert table["ok"].all(), table


@pytest.mark.slow
def test_pooled_analysis_agrees_with_jomo(den_imputation):
    # The criterion: each pooled estimate within 1 pooled standard error of jomo's.
    # Both sides carry Monte Carlo error of m = 10 / 20 imputations; the pooled s.e. is the
    # scale on which a wrong imputation model (e.g. den ignored) shows up as a shift.
    fits = jm.analyze(
        den_imputation, "lpo ~ 1 + iqv + factor(den) + (1|sch)", reml=False, progressbar=False
    )
    table = fits.pool().table
    for term, (estimate, _) in JOMO.items():
        diff = table.loc[term, "estimate"] - estimate
        assert abs(diff) <= table.loc[term, "std_error"], (term, table.loc[term, "estimate"])


@pytest.mark.slow
def test_den_constant_within_schools_and_valid(den_imputation):
    levels = set(jm.datasets.load_brandsma()["den"].dropna().unique())
    for done in den_imputation.complete("all"):
        assert (done.groupby("sch")["den"].nunique() == 1).all()
        assert set(done["den"].unique()) <= levels
