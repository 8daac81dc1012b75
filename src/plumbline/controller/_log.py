"""Controller logs: one line per event, readable text or JSON, always with app and revision."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER = logging.getLogger("plumbline.controller")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "app": getattr(record, "app", ""),
            "revision": getattr(record, "revision", ""),
        }
        line.update(getattr(record, "fields", {}) or {})
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        app = getattr(record, "app", "") or "-"
        revision = (getattr(record, "revision", "") or "-")[:12]
        fields = getattr(record, "fields", {}) or {}
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        return f"{record.levelname.lower():<7} app={app} revision={revision} {record.getMessage()}{extra}"


def setup(*, json_logs: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def log(level: int, message: str, *, app: str = "", revision: str = "", **fields: Any) -> None:
    """Log with app and revision on the line. Never pass secret values in ``fields``."""
    LOGGER.log(level, message, extra={"app": app, "revision": revision, "fields": fields})
