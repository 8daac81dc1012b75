"""The sync stage: apply a plan in waves with server-side apply, then prune when asked."""

from plumbline.sync.run import ObjectOutcome, Outcome, SyncReport, refusals, sync_plan
from plumbline.sync.waves import WAVE_ANNOTATION, wave_of

__all__ = ["WAVE_ANNOTATION", "ObjectOutcome", "Outcome", "SyncReport", "refusals", "sync_plan", "wave_of"]
