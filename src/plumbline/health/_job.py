"""Job (batch): done (Complete), failed, suspended, or still running — a running Job is Progressing.

kstatus calls a started Job Current; plumbline follows gitops-engine: a Job has not done its work until
it completes, and a sync waiting on health must wait for it (docs/health.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, conditions, degraded, healthy, progressing, suspended


def assess(obj: Mapping[str, Any]) -> Health:
    for cond in conditions(obj):
        if cond.get("status") != "True":
            continue
        message = str(cond.get("message") or "")
        kind = cond.get("type")
        if kind in ("Failed", "FailureTarget"):
            return degraded(message or "Job failed")
        if kind == "Suspended":
            return suspended(message or "Job is suspended")
        if kind in ("Complete", "SuccessCriteriaMet"):
            return healthy(message)
    return progressing("Job is running")
