"""Service references: in-cluster addresses in env values, args and ConfigMap data must name a Service
that exists (in this plan, in another app's last synced state, or live) and a port it exposes.

Seed 01, incident 2 (``INVENTORY_SERVICE_URL`` still naming a deprecated service: 200 silent failed
orders) and seed 04 (``DB_HOST`` naming ``pgbouncer`` where ``pgbouncer-primary`` was meant).

Which strings count as addresses, to keep false alarms away:

* ``scheme://host[:port]`` — any host of the forms below; a bare ``host`` in a URL counts too.
* ``name.ns.svc.cluster.local``, ``name.ns.svc`` — always; ``x.svc.cluster.local`` with no namespace
  is itself a mistake (seed 01's exact value) and blocks.
* ``name.ns`` — only if ``ns`` is a namespace plumbline knows of (else it is likely a public domain).
* a bare ``name`` — only as a URL host or as the whole value of a key ending in HOST, ADDR(ESS),
  SERVER, SERVICE or ENDPOINT.

The port is the URL's (or 80/443 for http/https), ``host:port``, or a sibling ``<PREFIX>_PORT`` key.

A Service missing from a namespace that exists blocks. A namespace that exists nowhere — not live,
not in Git (no App deploys there, no Namespace or Service in it) — only warns: that is an optional
component this cluster does not run (Argo CD's sock-shop sends traces to ``zipkin.jaeger``), not a
Service renamed under an address. A namespace a letter or two off an existing one still blocks, as a
likely typo. The closest existing Services are named in the fix, most similar first.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from plumbline.config import GuardName, Severity
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards._objects import containers
from plumbline.plan import Action, Plan, PlanItem

NAME = GuardName.REFERENCES
NEEDS_CLUSTER = False  # uses live Services when a cluster is given; offline it checks Git alone

_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/\s@]+@)?([A-Za-z0-9.-]+)(?::(\d{1,5}))?")
_HOSTPORT = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)(?::(\d{1,5}))?")
_HOST_KEY = re.compile(r"(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE|ENDPOINT)$", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "grpc": None}
_NOT_SERVICES = {"localhost", "0.0.0.0"}


@dataclass(frozen=True)
class Address:
    """An in-cluster address found in a value: Service ``name`` in ``namespace`` (None: malformed)."""

    text: str
    name: str
    namespace: str | None
    port: int | None
    explicit: bool  # written with .svc: unmistakably meant as a Service


def addresses(value: str, *, key: str, namespace: str, known_namespaces: set[str]) -> list[Address]:
    """Every in-cluster Service address ``value`` holds (see the module docstring for the rules)."""
    found: list[Address] = []
    hosts: list[tuple[str, int | None, bool]] = []
    for match in _URL.finditer(value):
        scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
        hosts.append((host, int(port) if port else _DEFAULT_PORTS.get(scheme), True))
    if not hosts:
        whole = _HOSTPORT.fullmatch(value.strip().lower())
        if whole:
            hosts.append((whole.group(1), int(whole.group(5)) if whole.group(5) else None, False))
    for host, port, in_url in hosts:
        address = _classify(host, port, in_url=in_url, key=key, namespace=namespace, known=known_namespaces)
        if address is not None:
            found.append(address)
    return found


def _classify(
    host: str, port: int | None, *, in_url: bool, key: str, namespace: str, known: set[str]
) -> Address | None:
    if host in _NOT_SERVICES or _is_ip(host):
        return None
    labels = host.split(".")
    for suffix in (["svc", "cluster", "local"], ["svc"]):
        if labels[-len(suffix) :] == suffix and len(labels) > len(suffix):
            rest = labels[: -len(suffix)]
            if len(rest) == 1:
                return Address(host, rest[0], None, port, True)
            return Address(host, rest[-2], rest[-1], port, True)
    if len(labels) == 2 and labels[1] in known:
        return Address(host, labels[0], labels[1], port, False)
    if len(labels) == 1 and (in_url or _HOST_KEY.search(key)):
        return Address(host, host, namespace, port, False)
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class _Services:
    """Known Services by (namespace, name) → ports, and which namespaces are known in full.

    ``namespaces`` are those Git declares (destinations, Namespace objects, Services' namespaces);
    ``live_namespaces`` those the cluster has (None: not read yet, or not readable).
    """

    ports: dict[tuple[str, str], set[int]]
    complete: set[str]
    live_checked: set[str]
    namespaces: set[str]
    live_namespaces: set[str] | None = None
    live_namespaces_read: bool = False


def _service_ports(obj: dict[str, Any]) -> set[int]:
    spec = obj.get("spec") or {}
    return {int(p["port"]) for p in spec.get("ports") or [] if isinstance(p, dict) and "port" in p}


def _known_services(plan: Plan, context: GuardContext) -> _Services:
    ports: dict[tuple[str, str], set[int]] = {}
    for item in plan.items:
        if item.ref.kind == "Service" and item.ref.group == "" and item.desired is not None:
            ports[(item.ref.namespace or plan.namespace, item.ref.name)] = _service_ports(item.desired)
    if context.store is not None:
        for other in context.apps.values():
            if other.name == context.app.name:
                continue
            record = context.store.last_sync(other.name)
            for obj in record.desired if record else []:
                if obj.get("kind") == "Service" and obj.get("apiVersion") == "v1":
                    meta = obj.get("metadata") or {}
                    ns = meta.get("namespace") or other.spec.destination.namespace
                    ports.setdefault((ns, str(meta.get("name"))), _service_ports(obj))
    namespaces = {plan.namespace, *(a.spec.destination.namespace for a in context.apps.values())}
    namespaces |= {ns for ns, _ in ports}
    namespaces |= {i.ref.name for i in plan.items if i.ref.kind == "Namespace" and i.desired is not None}
    return _Services(ports=ports, complete={plan.namespace}, live_checked=set(), namespaces=namespaces)


def _live_namespaces(services: _Services, context: GuardContext) -> set[str] | None:
    """The namespaces the cluster has, read once; None offline or if they may not be listed."""
    if context.cluster is None or services.live_namespaces_read:
        return services.live_namespaces
    services.live_namespaces_read = True
    info = context.cluster.discovery.lookup("v1", "Namespace")
    if info is None:
        return None
    try:
        listed = context.cluster.list(info)
    except Exception:  # not allowed to list namespaces: existence stays unknown
        return None
    services.live_namespaces = {str((obj.get("metadata") or {}).get("name")) for obj in listed}
    return services.live_namespaces


def _load_live(services: _Services, namespace: str, context: GuardContext) -> None:
    if context.cluster is None or namespace in services.live_checked:
        return
    services.live_checked.add(namespace)
    info = context.cluster.discovery.lookup("v1", "Service")
    if info is None:
        return
    try:
        live = context.cluster.list(info, namespace=namespace)
    except Exception:  # a namespace we may not read: judged on Git alone
        return
    services.complete.add(namespace)
    for obj in live:
        meta = obj.get("metadata") or {}
        services.ports.setdefault((namespace, str(meta.get("name"))), _service_ports(obj))


def _values(item: PlanItem) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """(field, key, siblings, value) for every string worth reading in the object."""
    obj = item.desired or {}
    if item.ref.kind == "ConfigMap" and item.ref.group == "":
        data = {str(k): v for k, v in (obj.get("data") or {}).items() if isinstance(v, str)}
        for key, value in data.items():
            yield f"data.{key}", key, data, value
    for container, path in containers(obj):
        env = {
            str(e.get("name")): e["value"]
            for e in container.get("env") or []
            if isinstance(e, dict) and isinstance(e.get("value"), str)
        }
        for key, value in env.items():
            yield f"{path}.env[{key}]", key, env, value
        for list_key in ("command", "args"):
            for index, arg in enumerate(container.get(list_key) or []):
                if isinstance(arg, str):
                    yield f"{path}.{list_key}[{index}]", "", {}, arg


def _sibling_port(key: str, siblings: dict[str, str]) -> int | None:
    match = re.fullmatch(r"(.*?)(HOST|HOSTNAME|ADDR|ADDRESS|SERVER)", key, re.I)
    if not match:
        return None
    value = siblings.get(f"{match.group(1)}PORT") or siblings.get(f"{match.group(1)}port")
    return int(value) if value and value.strip().isdigit() else None


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    services = _known_services(plan, context)
    known_namespaces = set(services.namespaces)
    findings: list[Finding] = []
    for item in plan.items:
        if item.desired is None or item.action is Action.PRUNE:
            continue
        namespace = item.ref.namespace or plan.namespace
        for field, key, siblings, value in _values(item):
            for address in addresses(value, key=key, namespace=namespace, known_namespaces=known_namespaces):
                if address.port is None:
                    address = Address(
                        address.text,
                        address.name,
                        address.namespace,
                        _sibling_port(key, siblings),
                        address.explicit,
                    )
                judged = _judge(item, field, key, address, services, context)
                if judged is not None:
                    findings.append(judged)
    return findings


def _judge(
    item: PlanItem, field: str, key: str, address: Address, services: _Services, context: GuardContext
) -> Finding | None:
    what = f"{key} " if key else ""
    if address.namespace is None:
        message = (
            f"{what}names {address.text!r}, which has no namespace: in-cluster addresses are "
            "NAME.NAMESPACE.svc.cluster.local, so this resolves to nothing"
        )
        example = f"{address.name}.<namespace>.svc.cluster.local"
        fix = f"write the Service's full address, e.g. {example}{_closest_hint(address.name, None, services)}"
        return finding(NAME, item.ref, message, fix, field=field)
    _load_live(services, address.namespace, context)
    where = f"{address.name}.{address.namespace}"
    ports = services.ports.get((address.namespace, address.name))
    points = f"{what}points at Service {address.name!r} in namespace {address.namespace!r} ({address.text})"
    if ports is None:
        known = address.namespace in services.complete
        if not known and not address.explicit:
            return None  # name.ns of a namespace we know nothing about: not worth a guess
        absent, meant = _absent_namespace(address.namespace, services, context) if known else (False, None)
        if absent and meant is None:
            # A Service missing from a namespace that exists is seed 01/04: the address was right
            # once, or a sibling was meant, and calls now go nowhere — a block. A namespace that
            # exists nowhere is in practice an optional component this cluster does not run
            # (sock-shop's zipkin.jaeger): said, not blocked. One a letter off a real one still blocks.
            message = (
                f"{points}, and that namespace exists nowhere (not live, not in Git): "
                "calls to it fail until it is installed"
            )
            fix = f"install what {address.namespace!r} should hold, or drop the address where it is optional"
            return finding(NAME, item.ref, message, fix, field=field, severity=Severity.WARN)
        if meant is not None:
            _load_live(services, meant, context)  # its Services, for the closest-Service hint
        sources = "in this plan, in other apps' last syncs" + (", or live" if context.cluster else "")
        typo = f"; namespace {address.namespace!r} exists nowhere — did you mean {meant!r}?" if meant else ""
        unread = "" if known else " (the namespace could not be read: not confirmed)"
        message = f"{points}, which does not exist {sources}{typo}{unread}"
        closest = _closest_hint(address.name, meant or address.namespace, services)
        fix = f"point it at an existing Service{closest}, or add the Service to Git"
        severity = Severity.BLOCK if known else Severity.WARN
        return finding(NAME, item.ref, message, fix, field=field, severity=severity, overridable=True)
    if address.port is not None and ports and address.port not in ports:
        exposed = ", ".join(str(p) for p in sorted(ports))
        message = f"{what}uses port {address.port} of Service {where}, which exposes only {exposed}"
        fix = f"use one of the ports {exposed}, or expose {address.port} on the Service"
        return finding(NAME, item.ref, message, fix, field=field, overridable=True)
    return None


def _absent_namespace(namespace: str, services: _Services, context: GuardContext) -> tuple[bool, str | None]:
    """(exists nowhere — not live, not in Git —, the existing namespace it is likely a misspelling of).

    Not knowing (offline, or namespaces unreadable) counts as existing: the Service is judged as before.
    """
    live = _live_namespaces(services, context)
    if live is None or namespace in live or namespace in services.namespaces:
        return False, None
    close = difflib.get_close_matches(namespace, sorted(live | services.namespaces), n=1, cutoff=0.8)
    return True, close[0] if close else None


def _closest_hint(name: str, namespace: str | None, services: _Services) -> str:
    """Up to three known Services most like ``name``, most similar first (a name that contains
    ``name`` counts even when short of the similarity cut-off)."""
    scored = []
    for ns, candidate in services.ports:
        if namespace is not None and ns != namespace:
            continue
        ratio = difflib.SequenceMatcher(None, name, candidate).ratio()
        if ratio >= 0.5 or name in candidate:
            scored.append((-ratio, candidate, ns))
    shown = [f"{candidate}.{ns}.svc" for _, candidate, ns in sorted(scored)[:3]]
    return f" (closest existing: {', '.join(shown)})" if shown else ""
