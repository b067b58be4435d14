"""Which joint model samples when ``method`` is not given: chosen from the data.

The collapsed model (the default) samples every observed category's latent value with
NUTS and stores it at every iteration: its memory grows with rows x draws, and its
gradients with the rows. The data-augmentation model (``method="augmented"``) draws the
latents between NUTS steps and keeps them at a few draws only, but its Gibbs steps mix
more slowly, so on small data it gives fewer effective draws per second
(``docs/design/categorical-at-scale.md``). The choice is the
collapsed model's store: above :data:`AUGMENTED_ABOVE_GB`, the augmented model, where it
can draw the design. The rule reads only the spec and the design, never the machine, so
the same call chooses the same model everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec

_log = logging.getLogger("jmimpute")

AUGMENTED_ABOVE_GB = 4.0
"""The collapsed model's estimated store of latents above which ``method`` defaults to
``"augmented"`` (:func:`jmimpute.models.collapsed.model.stored_gigabytes`).

Set between the measurements of ``benchmarks/bench_choice.py`` (benchmarks/README.md,
"Choosing the sampler"): below it the two samplers were within a factor of two of each
other in ESS per second (the collapsed one ahead on hsb), so the default with the longer
record stays; above it, at 20,000 rows with a binary and a nominal target, the augmented
model gave several times more."""


def choose_method(spec: ImputationSpec, design: Design) -> ImputationSpec:
    """``spec`` with its method chosen from ``design`` if the user did not choose one.

    ``spec.auto_method`` says the method was not given (never so for the substantive
    model). The choice is then made afresh for ``design``, even for a spec chosen for
    other data: ``"collapsed"``, or ``"augmented"`` where the collapsed model's store
    would pass :data:`AUGMENTED_ABOVE_GB` and the augmented model can draw the design.
    Both read the same design (:meth:`jmimpute.models.joint.model.JointModel.design`) and
    have the same NUTS defaults, so nothing built from the spec so far changes. The
    choice is logged, and ``spec.method`` records it.
    """
    if not spec.auto_method:
        return spec
    from jmimpute.models.augmented.model import unsupported
    from jmimpute.models.collapsed.model import stored_gigabytes

    # chosen afresh for these data: a spec chosen for other data may hold "augmented"
    default = spec if spec.method == "collapsed" else replace(spec, method="collapsed")
    gigabytes = stored_gigabytes(design, default)
    if gigabytes <= AUGMENTED_ABOVE_GB:
        return default
    reason = unsupported(design, default)
    if reason is not None:
        _log.info(
            "method='collapsed', although its latents would take about %.0f GB: the "
            "augmented sampler cannot take this model (%s)",
            gigabytes,
            reason,
        )
        return default
    _log.info(
        "method='augmented': the collapsed model would store about %.0f GB of latent values "
        "(more than %.0f GB); the augmented model draws them between NUTS steps and keeps "
        "a few draws. Pass method='collapsed' to keep the default",
        gigabytes,
        AUGMENTED_ABOVE_GB,
    )
    return replace(spec, method="augmented")
