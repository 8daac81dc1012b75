"""Asking a Prometheus server one PromQL instant query over its HTTP API (``/api/v1/query``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from plumbline.errors import PlumbError

QUERY_TIMEOUT_S = 10.0


class QueryError(PlumbError):
    """Prometheus refused a query (its reason is in the message), or could not be asked."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant query's answer: its labels and its value."""

    labels: dict[str, str]
    value: float


def query(url: str, promql: str, *, timeout: float = QUERY_TIMEOUT_S) -> list[Sample]:
    """Evaluate ``promql`` now against the Prometheus at ``url``: one :class:`Sample` per series, a
    scalar as one Sample without labels, no series as ``[]``. A query Prometheus refuses raises
    :class:`QueryError` with its reason (``query 'sum((': bad_data: ... parse error ...``); so does one
    it does not answer within ``timeout`` seconds."""
    address = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = _json_or_none(error.read())
        if not isinstance(answer, dict) or "error" not in answer:
            raise QueryError(f"query {promql!r}: HTTP {error.code} from {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise QueryError(f"query {promql!r}: Prometheus at {url} did not answer: {error}") from None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        got = answer if isinstance(answer, dict) else {}
        raise QueryError(f"query {promql!r}: {got.get('errorType')}: {got.get('error')}")
    try:
        data = answer["data"]
        if data["resultType"] in ("scalar", "string"):
            return [Sample(labels={}, value=float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise QueryError(f"query {promql!r}: a {data['resultType']} is not an instant value")
        return [Sample(labels=dict(s["metric"]), value=float(s["value"][1])) for s in data["result"]]
    except (KeyError, IndexError, TypeError, ValueError) as error:
        # Not Prometheus' answer shape (a proxy's page, another API): an error, never a value.
        raise QueryError(f"query {promql!r}: {url} answered with no instant value ({error!r})") from None


def _json_or_none(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None
