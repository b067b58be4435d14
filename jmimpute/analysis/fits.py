"""The fits of one analysis model to every completed data set, and their pooling.

Like merTools' ``lmerModList``: the per-set fits stay accessible (``fits[0]``, iteration),
and the pooled results come from methods: :meth:`AnalysisFits.pool` (Rubin's rules for the
fixed effects), :meth:`~AnalysisFits.varcorr` (variance components and ICC pooled as point
estimates, mitml's ``extra.pars``), :meth:`~AnalysisFits.ranef` (random effects averaged
over the sets), :meth:`~AnalysisFits.test` (D1/D2) and :meth:`~AnalysisFits.model_info`.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jmimpute.analysis.formula import AnalysisFormula
from jmimpute.analysis.frequentist import SetFit
from jmimpute.pooling import MultiParameterTest, PooledEstimates, d1_test, d2_test, pool


@dataclass(frozen=True)
class AnalysisSummary:
    """Pooled fixed effects and variance components, printable and notebook-friendly."""

    formula: str
    m: int
    fixed: PooledEstimates
    varcomp: pd.Series

    def __str__(self) -> str:
        parts = [f"Analysis of {self.m} imputed data sets: {self.formula}", "", str(self.fixed)]
        if len(self.varcomp):
            parts += ["", "Variance components (averaged over the sets):"]
            parts.append(self.varcomp.to_string(float_format=lambda v: f"{v:.4g}"))
        return "\n".join(parts)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        title = html.escape(self.formula)
        out = f"<h4>Analysis of {self.m} imputed data sets: <code>{title}</code></h4>"
        out += self.fixed._repr_html_()
        if len(self.varcomp):
            out += "<p><b>Variance components</b> (averaged)</p>"
            out += self.varcomp.to_frame().to_html(float_format="{:.4g}".format)
        return out


class AnalysisFits(Sequence[SetFit]):
    """Frequentist fits to each completed data set (0-based indexing, as Python lists).

    Create with :func:`jmimpute.analyze`.
    """

    def __init__(self, formula: AnalysisFormula, fits: list[SetFit], backend: str) -> None:
        self.formula = formula
        self.fits = fits
        self.backend = backend

    def __len__(self) -> int:
        return len(self.fits)

    def __getitem__(self, i: int) -> SetFit:  # type: ignore[override]
        return self.fits[i]

    def __iter__(self) -> Iterator[SetFit]:
        return iter(self.fits)

    @property
    def m(self) -> int:
        """Number of imputed data sets."""
        return len(self.fits)

    def estimates(self) -> pd.DataFrame:
        """Fixed effects, one row per imputed set."""
        return pd.DataFrame([f.params for f in self.fits], index=range(1, self.m + 1))

    def covariances(self) -> np.ndarray:
        """Covariance matrices of the fixed effects, shape (m, k, k)."""
        names = self.fits[0].params.index
        return np.stack([f.cov.loc[names, names].to_numpy() for f in self.fits])

    def default_df_com(self) -> float | None:
        """Complete-data df used by default when pooling.

        The residual df for single-level models (as mice), None for mixed models
        (large-sample, as mitml's default).
        """
        if self.formula.mixed:
            return None
        return float(np.mean([f.df_resid for f in self.fits]))

    def pool(self, df_com: float | str | None = "auto", ci: float = 0.95) -> PooledEstimates:
        """Pool the fixed effects with Rubin's rules and Barnard-Rubin df.

        Parameters
        ----------
        df_com : float, None or "auto"
            Complete-data df; "auto" uses :meth:`default_df_com`.
        ci : float, default 0.95

        Returns
        -------
        PooledEstimates
        """
        df = self.default_df_com() if isinstance(df_com, str) and df_com == "auto" else df_com
        return pool(self.estimates(), self.covariances(), df_com=df, ci=ci)  # type: ignore[arg-type]

    def fixef(self) -> pd.DataFrame:
        """Pooled fixed effects (estimate, s.e., df, p, CI, RIV, FMI)."""
        return self.pool().table

    def varcorr(self) -> pd.Series:
        """Variance components and ICC, averaged over the sets (mitml's ``extra.pars``)."""
        frame = pd.DataFrame([f.varcomp for f in self.fits])
        return frame.mean(axis=0).rename("estimate")

    def ranef(self) -> pd.DataFrame:
        """Random effects per cluster, averaged over the sets (merTools' ``REimpute``)."""
        frames = [f.ranef for f in self.fits if f.ranef is not None]
        if not frames:
            raise ValueError("the analysis model has no random effects")
        return sum(frames[1:], frames[0]) / len(frames)

    def model_info(self) -> pd.DataFrame:
        """Per-set model information: observations, groups, log-likelihood, AIC, BIC, warnings."""
        return pd.DataFrame([f.info for f in self.fits], index=range(1, self.m + 1))

    def test(
        self,
        parameters: Sequence[str],
        *,
        method: str = "D1",
        df_com: float | str | None = "auto",
    ) -> MultiParameterTest:
        """Pooled test that the named fixed effects are all zero (mitml's ``testConstraints``).

        Parameters
        ----------
        parameters : sequence of str
            Fixed-effect names, e.g. ``["den[2]", "den[3]", "den[4]"]``.
        method : {"D1", "D2"}
            D1: Wald test with pooled covariance (Reiter df with ``df_com``); D2: pooled
            per-set Wald chi-squares.
        df_com : float, None or "auto"
            For D1 only.

        Returns
        -------
        MultiParameterTest
        """
        est = self.estimates()
        missing = [p for p in parameters if p not in est.columns]
        if missing:
            raise ValueError(
                f"`parameters` {missing} are not fixed effects of {self.formula.text!r}; "
                f"they are: {list(est.columns)}"
            )
        idx = [list(est.columns).index(p) for p in parameters]
        q = est.to_numpy()[:, idx]
        u = self.covariances()[:, idx][:, :, idx]
        if method == "D1":
            df = self.default_df_com() if isinstance(df_com, str) and df_com == "auto" else df_com
            out = d1_test(pd.DataFrame(q, columns=list(parameters)), u, df_com=df)  # type: ignore[arg-type]
        elif method == "D2":
            chi2 = [qi @ np.linalg.solve(ui, qi) for qi, ui in zip(q, u, strict=True)]
            out = d2_test(chi2, df=len(idx))
            out = MultiParameterTest(**(out.__dict__ | {"parameters": tuple(parameters)}))
        else:
            raise ValueError(f"`method` must be 'D1' or 'D2'; got {method!r}")
        return out

    def summary(self) -> AnalysisSummary:
        """Pooled fixed effects and averaged variance components."""
        return AnalysisSummary(self.formula.text, self.m, self.pool(), self.varcorr())

    def __repr__(self) -> str:
        return f"<AnalysisFits: {self.formula.text!r} on {self.m} imputed sets ({self.backend})>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
