import numpy as np

from jmimpute.design.suffstats import compute_stats, pattern_index


def test_pattern_index_orders_complete_rows_first_and_drops_empty_rows():
    observed = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [1, 1]], dtype=bool)
    masks, pattern = pattern_index(observed)
    assert masks.tolist()[0] == [True, True]
    assert {tuple(m) for m in masks.tolist()} == {(True, True), (True, False), (False, True)}
    assert pattern[2] == -1
    for row, k in enumerate(pattern):
        if k >= 0:
            assert masks[k].tolist() == observed[row].tolist()


def test_statistics_equal_explicit_sums():
    rng = np.random.default_rng(3)
    n, p, q, r, n_cl = 60, 3, 2, 2, 5
    y = rng.normal(size=(n, p))
    y[rng.random((n, p)) < 0.3] = np.nan
    x = rng.normal(size=(n, q))
    z = rng.normal(size=(n, r))
    cl = rng.integers(0, n_cl, n)
    st, latent = compute_stats(y, x, z, cl, n_cl)
    assert latent.rows.size == 0
    yt = np.nan_to_num(y)
    for k in range(st.n_patterns):
        rows = st.pattern == k
        np.testing.assert_allclose(st.syy[k], yt[rows].T @ yt[rows])
        np.testing.assert_allclose(st.syx[k], yt[rows].T @ x[rows])
        np.testing.assert_allclose(st.sxx[k], x[rows].T @ x[rows])
        assert st.n_k[k] == rows.sum()
        for j in range(n_cl):
            rj = rows & (cl == j)
            assert st.n_jk[j, k] == rj.sum()
            np.testing.assert_allclose(st.zz[j, k], z[rj].T @ z[rj])
            np.testing.assert_allclose(st.syz[j, k], yt[rj].T @ z[rj])
            np.testing.assert_allclose(st.sxz[j, k], x[rj].T @ z[rj])
    assert st.n_obs == int((~np.isnan(y)).sum())
