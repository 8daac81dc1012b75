"""The Grafana dashboard shipped in deploy/grafana/, read as the tests check it: its PromQL expressions
(panels' targets and the template variables' queries) and the metrics they name, with Grafana's
variables replaced the way Grafana would before sending a query."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "plumbline.json"
DASHBOARD: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())

# What Grafana puts in place of its variables: the app selector's "All" (allValue), and intervals
# that suit a Prometheus scraping every second.
VARIABLES = {"app": ".*", "__rate_interval": "15s", "__interval": "5s", "__range": "5m"}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<metric>.+),\s*)?(?P<label>\w+)\)$")
_METRIC = re.compile(r"\bplumbline_\w+")


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too (rows themselves excluded)."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(where, expr)`` for every query: ``panel title/refId`` and ``variable $name``."""
    found = [
        (f"{panel['title']}/{target['refId']}", target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            found.append((f"variable ${variable['name']}", label_values(text)))
    return found


def label_values(query: str) -> str:
    """The PromQL behind a ``label_values(METRIC, LABEL)`` variable query: the series it reads."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        return query
    series = match["metric"] or '{__name__=~".+"}'
    return f"count by ({match['label']}) ({series})"


def promql(expr: str) -> str:
    """``expr`` with Grafana's variables (``$app``, ``${app}``, ``$__rate_interval``, ...) replaced."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise KeyError(f"the dashboard uses ${name}, which the tests do not know how to fill in")
        return VARIABLES[name]

    return _VARIABLE.sub(value, expr)


def metric_names(dashboard: dict[str, Any]) -> set[str]:
    """Every ``plumbline_*`` metric an expression names (as exported: ``_total``, ``_bucket``...)."""
    return {name for _, expr in expressions(dashboard) for name in _METRIC.findall(expr)}
