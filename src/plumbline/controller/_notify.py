"""Notifications: what people must hear about, POSTed as JSON to generic webhooks and Slack-compatible
incoming webhooks (``{"text": ...}``; Mattermost and Rocket.Chat take the same).

Sent for: a sync that failed, a sync a guard or the engine refused (blocked) — once per app, commit
and reason, then ``resolved`` once it is over —, drift that appeared (with attribution), a pause that
expired with drift pending, a self-heal fight, a verification window that failed or was
inconclusive (which check, why, and the configured response), an app not Healthy after a sync, and a
rollback after a failed verification (what it changed, and where the app is held). Delivery is on a
background thread with a short timeout; a failed delivery is logged, never raised into the loop.
Messages name apps, objects, fields and revisions, never field values (which may be secret).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from plumbline.controller._log import log

TIMEOUT_S = 5.0


class NoticeKind(StrEnum):
    SYNC_FAILED = "sync-failed"
    SYNC_BLOCKED = "sync-blocked"
    DRIFT = "drift"
    PAUSE_EXPIRED_PENDING = "pause-expired-pending"
    FIGHT = "self-heal-fight"
    RESOLVED = "resolved"  # a failed or blocked sync, notified once, is over
    VERIFICATION_FAILED = "verification-failed"  # Failed or Inconclusive: the details say which
    ROLLED_BACK = "rolled-back"  # verification failed after a sync: rolled back to the last good revision
    UNHEALTHY = "unhealthy"  # not Healthy after a sync (the wait timed out or an object is Degraded)


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    app: str
    revision: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return f"[plumbline] {self.app}: {self.kind.value} at {self.revision[:12] or '-'}: {self.message}"


class Notifier:
    def __init__(self, *, webhooks: list[str] | None = None, slack: list[str] | None = None) -> None:
        self.targets = [(url, False) for url in webhooks or []] + [(url, True) for url in slack or []]
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()  # the controller's workers send at once: one sender thread

    def send(self, notice: Notice) -> None:
        if not self.targets:
            return
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="plumbline-notify", daemon=True)
                self._thread.start()
        self._queue.put(notice)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while (notice := self._queue.get()) is not None:
            for url, slack in self.targets:
                body = (
                    {"text": notice.text()}
                    if slack
                    else {
                        "kind": notice.kind.value,
                        "app": notice.app,
                        "revision": notice.revision,
                        "message": notice.message,
                        "details": notice.details,
                    }
                )
                request = urllib.request.Request(
                    url,
                    data=json.dumps(body, default=str).encode(),
                    headers={"Content-Type": "application/json", "User-Agent": "plumbline"},
                    method="POST",
                )
                try:
                    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                        response.read()
                except (urllib.error.URLError, OSError, ValueError) as error:
                    log(logging.WARNING, f"notification not delivered: {error}", app=notice.app, target=url)
