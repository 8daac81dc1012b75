"""Verification: after a sync is Healthy, does it keep working? A window during which the app's
health must stay Healthy and every metric check (a PromQL query and a threshold) must hold.

Public API:

* :class:`VerificationOutcome` — Passed, Failed, Inconclusive (defined in config, beside the
  ``spec.verification`` settings, :class:`plumbline.config.VerificationSpec`).
* :class:`Verification` — how a window ended: outcome, the check that decided it and why, every
  :class:`Measurement` (each a :class:`Phase`), the configured response (``on_failure``).
* :class:`VerificationWatch` — the pure core: rounds of measurements in, the verdict out (Argo
  Rollouts' ``failureLimit`` and ``consecutiveErrorLimit``); :func:`health_measurement` and
  :func:`check_measurement` turn a health or a query's answer into a measurement.
* :func:`run_window` — the loop: measure every interval until the window ends or the verdict is forced.
* :func:`query` — one PromQL instant query against a Prometheus (:class:`Sample`, :class:`QueryError`).
* :func:`verification_record` — the audit record of a commit's last window (where verdicts are kept).

The application layer runs it after a sync (:func:`plumbline.engine.verify_app`); docs/health.md
documents every setting.
"""

from plumbline.config import VerificationOutcome
from plumbline.verify._evaluate import (
    HEALTH_ERROR_LIMIT,
    VerificationWatch,
    check_measurement,
    health_measurement,
)
from plumbline.verify._model import HEALTH, CheckSummary, Measurement, Phase, Verification
from plumbline.verify._prometheus import QueryError, Sample, query
from plumbline.verify._record import verification_record
from plumbline.verify._run import Query, run_window

__all__ = [
    "HEALTH",
    "HEALTH_ERROR_LIMIT",
    "CheckSummary",
    "Measurement",
    "Phase",
    "Query",
    "QueryError",
    "Sample",
    "Verification",
    "VerificationOutcome",
    "VerificationWatch",
    "check_measurement",
    "health_measurement",
    "query",
    "run_window",
    "verification_record",
]
