"""A watch-fed cache of the live objects plumbline manages (an "informer"), one per API server.

For each kind it is asked to :meth:`LiveCache.watch`, one thread LISTs the kind cluster-wide with the
label selector ``plumbline.dev/app,!plumbline.dev/record`` (every app's objects, whatever
installation; not the Kubernetes store's records, which carry their app's label too), in pages,
then WATCHes from the list's resourceVersion with bookmarks, and keeps every object by (group, kind,
namespace, name). A watch the server ends (its timeout) is resumed from the last resourceVersion
seen; a 410 Gone lists again at once; an ERROR event, a failed request or a failed watch lists again
after a backoff (0.5 s doubling to 30 s), and until that list has answered
the kind is not *synced*: the cache does not answer for it. A kind whose cluster-wide LIST or WATCH
is forbidden (403) is not available here (logged once — a warning, but at info for Secrets, which
``plumb install`` grants only per namespace — and tried again every five minutes): the plan reads it
directly as without a cache, and reports what it may not list as before.

Every ADDED, MODIFIED and DELETED event (and what a new list finds changed) calls ``on_change`` with
the app names — the label's values — of the object before and after, so a label moved from app A to
B tells both; only where the object carries plumbline's tracking annotation (before or after):
controllers copy labels onto objects of their own (an EndpointSlice has its Service's), whose
changes are no app's. The first list of a kind (and the first after it was unavailable) tells the apps
whose objects it holds: a pass that read the kind directly before it was synced may have missed an
edit made before that list, which no event will tell. Those are told at once for all the kinds
started so far, when each has listed, become unavailable or failed once, so a controller's start-up
queues each app one more pass at most, not one per kind.

What the cache answers (:class:`LiveView`) is only ever what it holds: ``None`` means "not known
here", never "absent" — an object without the label may exist, and the plan then reads it from the
server. Objects are kept as compact JSON (about a third of the memory of the decoded dicts) and
decoded afresh for each answer, so no caller ever shares a dict with the cache or another caller.
HorizontalPodAutoscalers can be watched whole (:meth:`LiveCache.watch_every`, no selector) for the
runtime rules' HPA targets.

The cache is also the plan's :class:`~plumbline.plan.unchanged.Stamps` (:meth:`LiveCache.of`): once
:meth:`LiveCache.watch_stamps` has it watch APIServices, CustomResourceDefinitions and the mutating
admission configuration whole, a kind's stamp is composed from them (``stamp_of``) and the server's
version (read once, and again after such a watch had to list again) without a request per plan.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from plumbline.cluster.client import Cluster, Stream
from plumbline.cluster.discovery import ResourceInfo
from plumbline.errors import ApiFailure, ClusterError
from plumbline.plan.tracking import APP_LABEL, TRACKING_ANNOTATION
from plumbline.plan.unchanged import MUTATING_KINDS, stamp_of
from plumbline.store import RECORD_LABEL

# Every app's objects; not the Kubernetes store's records (Secrets labelled with their app too): they
# are no app's objects, grow with the history, and each pass's records would queue another pass.
SELECTOR = f"{APP_LABEL},!{RECORD_LABEL}"
PAGE = 500  # objects per LIST page, as client-go's informers
WATCH_S = (240, 360)  # the server ends each watch after a random time in this range (seconds)
READ_MARGIN_S = 30.0  # ... and the connection is given up this long after that without a byte
BACKOFF_S = (0.5, 30.0)  # after a failure: the first wait and the longest
FORBIDDEN_RETRY_S = 300.0  # a kind the server would not let us list is tried again this often
# Kinds an installation is expected to withhold cluster-wide (plumb install grants Secrets only where
# the apps deploy): not caching them is said at info, not as a warning at every start.
WITHHELD = frozenset({("", "Secret")})

LOGGER = logging.getLogger("plumbline.cluster.cache")

Log = Callable[[int, str], None]  # (level, message): where the cache says what went wrong

_Key = tuple[str | None, str]  # (namespace, name)


class LiveView(Protocol):
    """Live objects a plan may read instead of asking the API server (:class:`LiveCache`)."""

    def cached(self, info: ResourceInfo, *, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object if the cache holds it (labelled plumbline.dev/app, kind watched and synced);
        None means "not known here" (GET it), never "absent"."""
        ...

    def labelled(self, info: ResourceInfo, *, app: str, namespace: str | None) -> list[dict[str, Any]] | None:
        """Every object of the kind labelled plumbline.dev/app=<app> (in namespace, or all);
        None: the kind is not watched/synced here (LIST it as today)."""
        ...

    def every(self, info: ResourceInfo, *, namespace: str) -> list[dict[str, Any]] | None:
        """Every object of the kind in ``namespace``, labelled or not, for a kind watched whole
        (:meth:`LiveCache.watch_every`); None: not watched whole or not synced (LIST it)."""
        ...


class State(Enum):
    STARTING = "starting"  # no list has answered yet (or the last one failed)
    SYNCED = "synced"  # listed, and watched since without a gap
    UNAVAILABLE = "unavailable"  # the server forbids listing or watching the kind cluster-wide


@dataclass(frozen=True, slots=True)
class _Entry:
    app: str  # the label's value ("" for an unlabelled object in a whole-kind watch)
    version: str  # metadata.resourceVersion
    body: bytes  # the object as compact JSON
    tracked: bool  # it carries plumbline's tracking annotation (else its label was copied onto it)

    @property
    def told(self) -> str:
        """The app a change of it concerns ("": none — an EndpointSlice with its Service's labels)."""
        return self.app if self.tracked else ""


class _Reflector:
    """One kind, at one version, with or without the selector: its objects and the thread keeping them."""

    def __init__(self, owner: LiveCache, info: ResourceInfo, *, whole: bool) -> None:
        self.owner, self.info, self.whole = owner, info, whole
        self.state = State.STARTING
        self.objects: dict[_Key, _Entry] = {}
        self.by_app: dict[str, set[_Key]] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()  # set once the kind is synced or known unavailable
        self._stream: Stream | None = None
        self._logged_forbidden = False
        self._listed = False  # a list has answered since the kind was (again) available
        self.generation = 0  # counts every change of what it holds or of its state
        self.ended = False  # the thread has returned (the kind is gone, or the cache closed)
        self.relists = 0  # counts the lists after the first (the server may have restarted)
        self.tried = False  # it has listed, become unavailable or failed at least once
        self.thread = threading.Thread(
            target=self._run, name=f"cache-{info.kind}{'-all' if whole else ''}", daemon=True
        )

    # ---- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._keep()
        finally:
            self.ended = True

    def _keep(self) -> None:
        stop = self.owner._stop
        backoff = BACKOFF_S[0]
        failures = 0  # in a row: only the first is a warning (an outage would say it every 30 s)
        while not stop.is_set():
            try:
                resume: str | None = self._list()
                failures = 0
                while resume is not None and not stop.is_set():
                    resume = self._watch(resume)
                    backoff = BACKOFF_S[0]  # a watch that ended as watches end: all is well
                continue  # 410 Gone: list again at once
            except ApiFailure as failure:
                if failure.status == 403:
                    self._forbidden(failure)
                    stop.wait(FORBIDDEN_RETRY_S)
                    continue
                if failure.status in (404, 405):  # the kind is gone, or cannot be listed
                    self._set_state(State.UNAVAILABLE)
                    self.owner._log(logging.INFO, f"not caching {self.info.group_kind}: {failure}")
                    return
                why: Exception = failure
            except (_Broken, ClusterError, OSError, ValueError) as error:
                why = error
            if stop.is_set():
                return
            failures += 1
            self.owner._tried(self, set())
            level = logging.WARNING if failures == 1 else logging.DEBUG
            self.owner._log(level, f"the watch of {self.info.group_kind} failed, listing again: {why}")
            self._set_state(State.STARTING)  # not answered for until a list has answered again
            stop.wait(backoff * (0.5 + random.random() / 2))
            backoff = min(BACKOFF_S[1], backoff * 2)

    def _query(self) -> dict[str, str]:
        return {} if self.whole else {"labelSelector": SELECTOR}

    def _list(self) -> str:
        """LIST the kind (in pages), replace what is kept, tell what changed; the list's version."""
        cluster, path = self.owner.cluster, self.info.path()
        fresh: dict[_Key, _Entry] = {}
        query = {**self._query(), "limit": str(PAGE)}
        version = ""
        while True:
            page = cluster.request("GET", path, query=query)
            metadata = page.get("metadata") or {}
            version = version or str(metadata.get("resourceVersion") or "")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.info.api_version)
                item.setdefault("kind", self.info.kind)
                key, entry = _entry(item)
                fresh[key] = entry
            if not metadata.get("continue"):
                break
            query = {**query, "continue": str(metadata["continue"])}
        with self.lock:
            old, first = self.objects, not self._listed
            self._listed = True
            self.generation += 1
            self.relists += 0 if first else 1
            self.objects = fresh
            self.by_app = {}
            for key, entry in fresh.items():
                self.by_app.setdefault(entry.app, set()).add(key)
            self.state = State.SYNCED
        if first:  # a pass may have read the kind directly before, and missed an edit made since
            self.owner._tried(self, {entry.told for entry in fresh.values()})  # before wait_synced returns
        self.synced.set()
        if not first:  # what changed while no watch was open
            apps: set[str] = set()
            for key, entry in fresh.items():
                before = old.get(key)
                if before is None or before.version != entry.version:
                    apps |= {entry.told, before.told if before else ""}
            for key, entry in old.items():
                if key not in fresh:
                    apps.add(entry.told)
            self.owner._changed(apps)
        return version

    def _watch(self, version: str) -> str | None:
        """WATCH from ``version`` until the server ends it; the version to resume from, or None
        when the kind must be listed again (410 Gone). Another ERROR event raises :class:`_Broken`
        (listed again after the backoff)."""
        seconds = random.randint(*WATCH_S)
        query = {
            **self._query(),
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(seconds),
        }
        try:
            stream = self.owner.cluster.stream(self.info.path(), query=query, timeout=seconds + READ_MARGIN_S)
        except ApiFailure as failure:
            if failure.status == 410:
                return None
            raise
        with self.lock:
            self._stream = stream
        if self.owner._stop.is_set():
            stream.close()
        try:
            for event in stream:
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise _Broken(f"the server ended the watch: {obj.get('message') or obj}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self._apply(kind, obj)
        finally:
            with self.lock:
                self._stream = None
        return version

    def _apply(self, event: str, obj: dict[str, Any]) -> None:
        key, entry = _entry(obj)
        with self.lock:
            before = self.objects.pop(key, None)
            if before is not None:
                self.by_app.get(before.app, set()).discard(key)
            if event != "DELETED":
                self.objects[key] = entry
                self.by_app.setdefault(entry.app, set()).add(key)
            self.generation += 1
        self.owner._changed({entry.told, before.told if before else ""})

    def _forbidden(self, failure: ApiFailure) -> None:
        self._set_state(State.UNAVAILABLE)
        if not self._logged_forbidden:
            self._logged_forbidden = True
            withheld = (self.info.group, self.info.kind) in WITHHELD
            self.owner._log(
                logging.INFO if withheld else logging.WARNING,
                f"not caching {self.info.group_kind}: listing or watching it cluster-wide is forbidden "
                f"({failure.message}); plans read it directly",
            )

    def _set_state(self, state: State) -> None:
        with self.lock:
            self.state = state
            self.generation += 1
            if state is State.UNAVAILABLE:  # kept otherwise, to tell what the next list finds changed
                self.objects, self.by_app, self._listed = {}, {}, False
        if state is State.UNAVAILABLE:
            self.owner._tried(self, set())
            self.synced.set()

    def stop(self) -> None:
        with self.lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    # ---- answers ----------------------------------------------------------------------------

    def get(self, key: _Key) -> bytes | None:
        with self.lock:
            entry = self.objects.get(key) if self.state is State.SYNCED else None
        return None if entry is None else entry.body

    def select(self, *, app: str | None, namespace: str | None) -> list[bytes] | None:
        with self.lock:
            if self.state is not State.SYNCED:
                return None
            keys = self.objects.keys() if app is None else self.by_app.get(app, set())
            return [self.objects[k].body for k in keys if namespace is None or k[0] == namespace]


class _Broken(Exception):
    """A watch the server ended with an ERROR event other than 410 Gone."""


def _entry(obj: dict[str, Any]) -> tuple[_Key, _Entry]:
    metadata = obj.get("metadata") or {}
    key = (metadata.get("namespace"), str(metadata.get("name", "")))
    app = str((metadata.get("labels") or {}).get(APP_LABEL, ""))
    body = json.dumps(obj, separators=(",", ":")).encode()
    tracked = TRACKING_ANNOTATION in (metadata.get("annotations") or {})
    return key, _Entry(app=app, version=str(metadata.get("resourceVersion", "")), body=body, tracked=tracked)


class LiveCache:
    """The live objects labelled ``plumbline.dev/app`` on one API server, kept by watches (module
    docstring). Thread-safe; every answer is a fresh copy. ``on_change`` is called, on a watch's
    thread, with the app names an event concerns; it must not block for long. ``log(level, message)``
    gets what the cache has to say (a watch failed, a kind it may not watch); default: its logger."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        on_change: Callable[[frozenset[str]], None] | None = None,
        log: Log | None = None,
    ) -> None:
        self.cluster = cluster
        self._on_change = on_change
        self._log: Log = log or LOGGER.log
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._labelled: dict[tuple[str, str], _Reflector] = {}  # (group, kind) -> its watch
        self._whole: dict[tuple[str, str], _Reflector] = {}
        self._stamp_kinds: tuple[ResourceInfo, ...] = ()  # APIService, CRD, admission (watch_stamps)
        self._server: tuple[int, str] | None = None  # (relists when read, /version's gitVersion)
        self._stamps: dict[ResourceInfo, tuple[tuple[int, ...], str | None]] = {}
        self._first: set[str] = set()  # apps first lists found, told once every kind has tried

    def watch(self, infos: Iterable[ResourceInfo]) -> None:
        """Keep the objects labelled ``plumbline.dev/app`` of each kind (that may be watched); a
        kind already watched is left as it is (at the version it was first asked at), unless its
        watch ended because the kind was gone (a CRD deleted): then it is watched again."""
        self._start(self._labelled, infos, whole=False)

    def watch_every(self, infos: Iterable[ResourceInfo]) -> None:
        """Keep every object of each kind, labelled or not (HorizontalPodAutoscalers)."""
        self._start(self._whole, infos, whole=True)

    def _start(
        self, into: dict[tuple[str, str], _Reflector], infos: Iterable[ResourceInfo], *, whole: bool
    ) -> None:
        started = []
        with self._lock:
            if self._stop.is_set():
                return
            for info in infos:
                known = into.get((info.group, info.kind))
                if "list" not in info.verbs or "watch" not in info.verbs or (known and not known.ended):
                    continue  # a kind whose watch ended (it was gone: 404) is watched again when asked
                reflector = into[(info.group, info.kind)] = _Reflector(self, info, whole=whole)
                started.append(reflector)
        for reflector in started:
            reflector.thread.start()

    def watch_stamps(self) -> None:
        """Keep, whole, what the kinds' stamps are made of (:meth:`of`): APIServices,
        CustomResourceDefinitions and the mutating admission kinds the server serves."""
        discovery = self.cluster.discovery
        apiservice = discovery.lookup("apiregistration.k8s.io/v1", "APIService")
        crd = discovery.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        if apiservice is None or crd is None:
            return  # no stamps without them: every kind answers None
        admission = [
            info
            for info in discovery.listable()
            if info.group == "admissionregistration.k8s.io" and info.kind in MUTATING_KINDS
        ]
        with self._lock:
            self._stamp_kinds = (apiservice, crd, *admission)
        self.watch_every(self._stamp_kinds)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until every kind watched so far is synced or known unavailable; False on timeout."""
        with self._lock:
            reflectors = [*self._labelled.values(), *self._whole.values()]
        return all(r.synced.wait(timeout) for r in reflectors)

    def kinds(self) -> dict[State, int]:
        """How many kinds are watched in each state (whole watches included), for metrics."""
        with self._lock:
            reflectors = [*self._labelled.values(), *self._whole.values()]
        counts = dict.fromkeys(State, 0)
        for reflector in reflectors:
            counts[reflector.state] += 1
        return counts

    def __len__(self) -> int:
        """The objects held, over every kind."""
        with self._lock:
            reflectors = [*self._labelled.values(), *self._whole.values()]
        return sum(len(reflector.objects) for reflector in reflectors)

    def state(self, info: ResourceInfo, *, whole: bool = False) -> State | None:
        """How the kind is cached (None: it is not watched)."""
        reflector = (self._whole if whole else self._labelled).get((info.group, info.kind))
        return None if reflector is None else reflector.state

    def close(self) -> None:
        """Stop every watch (each thread ends at once); nothing is answered or told after."""
        with self._lock:
            self._stop.set()
            reflectors = [*self._labelled.values(), *self._whole.values()]
        for reflector in reflectors:
            reflector.stop()
        for reflector in reflectors:
            reflector.thread.join(timeout=5.0)

    def __enter__(self) -> LiveCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _changed(self, apps: set[str]) -> None:
        named = frozenset(a for a in apps if a)
        if named and self._on_change is not None and not self._stop.is_set():
            try:
                self._on_change(named)
            except Exception as error:  # a failing listener must not end the watch
                self._log(
                    logging.ERROR, f"on_change failed for {sorted(named)}: {type(error).__name__}: {error}"
                )

    def _tried(self, reflector: _Reflector, apps: set[str]) -> None:
        """``reflector`` has listed (``apps``: those its first list holds), become unavailable or
        failed; once every kind started has, the apps first lists found are told, in one call."""
        with self._lock:
            reflector.tried = True
            self._first |= apps
            every = [*self._labelled.values(), *self._whole.values()]
            if not all(r.tried for r in every):
                return
            told, self._first = self._first, set()
        self._changed(told)

    def _reflector(self, into: dict[tuple[str, str], _Reflector], info: ResourceInfo) -> _Reflector | None:
        reflector = into.get((info.group, info.kind))
        if reflector is None or self._stop.is_set():
            return None  # not watched, or no longer (closed)
        # Another version of the kind has other fields: only the version watched is answered for.
        return reflector if reflector.info.version == info.version else None

    # ---- Stamps -----------------------------------------------------------------------------

    def of(self, info: ResourceInfo) -> str | None:
        """The kind's stamp (:func:`plumbline.plan.unchanged.stamp_of`), from what the cache holds;
        None (cannot tell: no shortcut) until :meth:`watch_stamps` has listed, where it may not list
        them, for a kind an aggregated server serves, or without the server's version."""
        with self._lock:
            kinds = () if self._stop.is_set() else self._stamp_kinds
        held = [self._whole.get((k.group, k.kind)) for k in kinds]
        reflectors = [r for r in held if r is not None]
        if not kinds or len(reflectors) < len(kinds):
            return None
        seen = tuple(r.generation for r in reflectors)
        with self._lock:
            memo = self._stamps.get(info)
        if memo is not None and memo[0] == seen:
            return memo[1]
        apiservices, crds, *admission = reflectors
        listed = [r.select(app=None, namespace=None) for r in admission]
        if any(r.state is not State.SYNCED for r in (apiservices, crds)) or any(b is None for b in listed):
            return None
        service = apiservices.get((None, f"{info.version}.{info.group}"))
        crd = crds.get((None, f"{info.plural}.{info.group}")) if info.group else None
        server = self._server_version(sum(r.relists for r in reflectors))
        if not server:
            return None  # not kept: asked again next time
        if service is None:
            stamp = None
        else:
            stamp = stamp_of(
                info,
                server=server,
                apiservice=json.loads(service),
                crd=None if crd is None else json.loads(crd),
                admission=[json.loads(body) for bodies in listed for body in bodies or []],
            )
        with self._lock:
            self._stamps[info] = (seen, stamp)
        return stamp

    def _server_version(self, relists: int) -> str:
        """``/version``'s gitVersion, read again when a stamp watch had to list again since."""
        known = self._server
        if known is None or known[0] != relists:
            try:
                answer = self.cluster.request("GET", "/version")
            except (ApiFailure, ClusterError) as error:
                self._log(logging.WARNING, f"cannot read the server's version (no stamps): {error}")
                return ""
            known = self._server = (relists, str((answer or {}).get("gitVersion", "")))
        return known[1]

    # ---- LiveView ---------------------------------------------------------------------------

    def cached(self, info: ResourceInfo, *, namespace: str | None, name: str) -> dict[str, Any] | None:
        reflector = self._reflector(self._labelled, info)
        if reflector is None:
            return None
        body = reflector.get((namespace if info.namespaced else None, name))
        if body is None:
            return None
        found: dict[str, Any] = json.loads(body)
        return found

    def labelled(self, info: ResourceInfo, *, app: str, namespace: str | None) -> list[dict[str, Any]] | None:
        reflector = self._reflector(self._labelled, info)
        bodies = None if reflector is None else reflector.select(app=app, namespace=namespace)
        return None if bodies is None else [json.loads(b) for b in bodies]

    def every(self, info: ResourceInfo, *, namespace: str) -> list[dict[str, Any]] | None:
        reflector = self._reflector(self._whole, info)
        bodies = None if reflector is None else reflector.select(app=None, namespace=namespace)
        return None if bodies is None else [json.loads(b) for b in bodies]
