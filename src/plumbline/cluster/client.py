"""Talking to one Kubernetes API server: raw JSON over a pooled HTTPS connection.

The official client loads the kubeconfig (certificates, tokens, exec plugins); requests then go out
through our own urllib3 pool as plain JSON, without (de)serialising into generated models — plumbline
compares objects as data, and for thousands of objects the models cost more than the network.

Every method is thread-safe; callers parallelise with :meth:`Cluster.map`.

Errors are mapped here, once: an error status becomes the :class:`~plumbline.errors.ApiFailure`
subclass that names it (unauthorized, forbidden, not found, conflict, unavailable), no answer at all
becomes :class:`~plumbline.errors.ApiUnreachable`; both name the server and the kubeconfig context.

Rate limiting, as client-go's QPS and Burst (:mod:`plumbline.cluster.throttle`): with ``limits``, each
try of each request takes a token from the connection's bucket first, waiting when it is empty; watch
streams take none. Without (the CLI's default), no client-side limit: the API server's Priority and
Fairness is the limit (decision 0025).

Retries, as client-go does them: a request that may safely be sent twice (see :func:`_idempotent`) is
retried when the connection fails (refused, reset, TLS handshake) or the server answers 429/503, with
exponential backoff and jitter, honouring ``Retry-After``, at most ``RETRY_ATTEMPTS`` tries within
``RETRY_BUDGET_S``. Any request is retried when it provably never reached the server (connection
refused) or the server says it did not process it (429). A timeout waiting for an answer is not
retried: the request may be in progress, and waiting again would only double the wait.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import urllib3

from plumbline.cluster import kubeconfig as kubeconfig_module
from plumbline.cluster.discovery import Discovery, ResourceInfo
from plumbline.cluster.throttle import Limits, TokenBucket
from plumbline.errors import (
    ApiConflict,
    ApiFailure,
    ApiForbidden,
    ApiNotFound,
    ApiUnauthorized,
    ApiUnavailable,
    ApiUnreachable,
)

FIELD_MANAGER = "plumbline"
DEFAULT_TIMEOUT_S = 30.0
PARALLELISM = 16
CONNECT_TIMEOUT_S = 5.0

RETRY_ATTEMPTS = 5  # tries in all, the first included
RETRY_BUDGET_S = 20.0  # no new try starts this long after the first failure
RETRY_BASE_S = 0.25  # the first backoff; doubles each time, with jitter
RETRY_MAX_S = 4.0  # the longest backoff, and the longest Retry-After honoured
STREAMS = 128  # watch connections kept for reuse; more may be open (they never wait for one)

T = TypeVar("T")
R = TypeVar("R")


# Statuses mapped to their own class; the rest are plain ApiFailure (see plumbline.errors).
_FAILURES: dict[int, type[ApiFailure]] = {
    401: ApiUnauthorized,
    403: ApiForbidden,
    404: ApiNotFound,
    409: ApiConflict,
    429: ApiUnavailable,
    502: ApiUnavailable,
    503: ApiUnavailable,
    504: ApiUnavailable,
}
# Answers that mean "try again": the server did not process the request (overloaded, not ready).
_RETRY_STATUSES = frozenset({429, 503})


class Cluster:
    """One API server, reached through a kubeconfig (``context`` picks one of its contexts)."""

    def __init__(
        self, *, kubeconfig: Path | None = None, context: str | None = None, limits: Limits | None = None
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        credentials = kubeconfig_module.load(kubeconfig, context)
        self.server = credentials.server
        self.context_name = credentials.context  # the context actually used (``context`` may be None)
        self._authorization = credentials.authorization
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=PARALLELISM * 2,
            block=True,
            ssl_context=credentials.ssl_context,
            retries=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=DEFAULT_TIMEOUT_S),
        )
        self._connects = 0  # TCP (and TLS) connections the requests' pool has made: keep-alive's measure
        self._connects_lock = threading.Lock()
        requests = self._pool.connection_from_url(self.server)
        requests.ConnectionCls = _counting(requests.ConnectionCls, self._connected)
        # Watches hold their connection for minutes: their own pool, never blocking, so any number of
        # them leaves every connection of the pool above to the requests.
        self._streams = urllib3.PoolManager(
            num_pools=4, maxsize=STREAMS, block=False, ssl_context=credentials.ssl_context, retries=False
        )
        self._executor = ThreadPoolExecutor(max_workers=PARALLELISM, thread_name_prefix="plumbline-api")
        self._discovery: Discovery | None = None
        # Client-side QPS and burst (None: no limit); its counts say how often requests waited.
        self.throttle = TokenBucket(limits) if limits is not None and not limits.unlimited else None

    def unthrottled(self) -> Cluster:
        """This connection without the client-side limit, sharing its pool (close this one, never the
        twin): for Lease renewals, which must not wait behind a burst of other requests — a renewal
        late by a lease period hands the app to another replica (controller-runtime gives leader
        election its own client for the same reason)."""
        twin = copy.copy(self)
        twin.throttle = None
        return twin

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._pool.clear()
        self._streams.clear()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- raw requests -------------------------------------------------------------------------

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "plumbline"}
        if content_type:
            headers["Content-Type"] = content_type
        if authorization := self._authorization():
            headers["Authorization"] = authorization
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str | None = None,
        timeout: float | None = None,
        decode: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """One request; returns the decoded JSON body (None unless ``decode``).

        An error status raises the :class:`ApiFailure` subclass that names it; no answer raises
        :class:`ApiUnreachable`. Transient failures are retried (module docstring); ``idempotent``
        overrides the guess from method and content type.
        """
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = self._headers(content_type) if body is not None else self._headers()
        if accept:
            headers["Accept"] = accept
        data = json.dumps(body).encode() if body is not None else None
        timeouts = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=timeout or DEFAULT_TIMEOUT_S)
        first = 0.0  # when the first try failed; nothing is timed while requests succeed
        attempt = 0
        while True:
            attempt += 1
            if self.throttle is not None:
                self.throttle.take()
            try:
                response = self._pool.request(method, url, body=data, headers=headers, timeout=timeouts)
            except urllib3.exceptions.HTTPError as error:
                first = first or time.monotonic()
                repeatable = _idempotent(method, content_type) if idempotent is None else idempotent
                again = _not_sent(error) or (repeatable and _transient(error))
                if again and _may_retry(attempt, first):
                    continue
                raise self._unreachable(error, attempt) from None
            if response.status < 400:
                payload = response.data
                if not payload or not decode:
                    return None
                return json.loads(payload)
            # 429: the server refused before doing anything, so even a create may be repeated.
            if response.status in _RETRY_STATUSES and (
                response.status == 429
                or (_idempotent(method, content_type) if idempotent is None else idempotent)
            ):
                first = first or time.monotonic()
                if _may_retry(attempt, first, _retry_after(response.headers.get("Retry-After"))):
                    continue
            raise self._failure(response.status, response.data)

    def _failure(self, status: int, payload: bytes) -> ApiFailure:
        return api_failure(status, payload, server=self.server, context=self.context_name)

    def _unreachable(self, error: urllib3.exceptions.HTTPError, attempts: int) -> ApiUnreachable:
        return ApiUnreachable(_describe(error, attempts), server=self.server, context=self.context_name)

    def stream(self, path: str, *, query: dict[str, str], timeout: float) -> Stream:
        """Open a watch on ``path``: iterate the :class:`Stream` for its events ({type, object}) until
        the server ends it, ``timeout`` passes without a byte, or someone closes it. An error status
        (403, 410 Gone, ...) raises the :class:`ApiFailure` that names it here, before any event."""
        url = self.server + path + "?" + urllib.parse.urlencode({**query, "watch": "true"})
        try:
            response = self._streams.request(
                "GET",
                url,
                headers=self._headers(),
                preload_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=timeout),
            )
        except urllib3.exceptions.HTTPError as error:
            # Not retried here: the caller re-establishes watches on its own schedule.
            raise self._unreachable(error, 1) from None
        if response.status >= 400:
            try:
                raise self._failure(response.status, response.read())
            finally:
                response.release_conn()
        return Stream(response)

    def connections_opened(self) -> int:
        """How many connections (each a TCP and TLS handshake) this client's requests have opened, a
        reconnect of a connection the server closed included (watches apart). Requests reuse them
        (HTTP keep-alive): a sync of thousands of objects opens about one per request thread
        (:data:`PARALLELISM`), not one per request."""
        return self._connects

    def _connected(self) -> None:
        with self._connects_lock:
            self._connects += 1

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` on the request threads, results in order; the first exception is raised."""
        return list(self._executor.map(fn, items))

    # ---- discovery ----------------------------------------------------------------------------

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = Discovery.load(self)
        return self._discovery

    def refresh_discovery(self) -> Discovery:
        self._discovery = Discovery.load(self)
        return self._discovery

    # ---- object operations (plain dicts in, plain dicts out) ----------------------------------

    def get(self, info: ResourceInfo, *, name: str, namespace: str | None) -> dict[str, Any] | None:
        """The live object, or None if it does not exist (HTTP 404)."""
        return self.read(info.path(namespace=namespace, name=name))

    def read(self, path: str) -> dict[str, Any] | None:
        """GET the object at the API ``path``, or None if it does not exist (HTTP 404): for objects
        plumbline addresses by path itself (its Leases, its audit anchor), with no discovery needed."""
        try:
            result: dict[str, Any] = self.request("GET", path)
        except ApiNotFound:
            return None
        return result

    def list(
        self, info: ResourceInfo, *, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in ``namespace``, or everywhere), each with apiVersion and kind set."""
        query = {"labelSelector": label_selector} if label_selector else {}
        result = self.request("GET", info.path(namespace=namespace), query=query)
        items: list[dict[str, Any]] = result.get("items") or []
        for item in items:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        return items

    def apply(
        self,
        obj: dict[str, Any],
        *,
        info: ResourceInfo,
        field_manager: str = FIELD_MANAGER,
        force: bool = False,
        dry_run: bool = False,
        result: bool = True,
    ) -> dict[str, Any] | None:
        """Server-side apply of ``obj``; with ``dry_run`` the server predicts and persists nothing.

        Returns the object the server answered with, or None when ``result`` is False (saves decoding).
        """
        metadata = obj.get("metadata") or {}
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        path = info.path(namespace=metadata.get("namespace"), name=metadata["name"])
        answer: dict[str, Any] | None = self.request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml", decode=result
        )
        return answer

    def delete(
        self,
        info: ResourceInfo,
        *,
        name: str,
        namespace: str | None,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
        propagation: str = "Background",
    ) -> None:
        """Delete one object. ``uid`` and ``resource_version`` are preconditions: a different object of
        the same name, or the same one changed since that version, survives (the server answers 409)."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            body["preconditions"] = {key: value for key, value in preconditions.items() if value}
        query = {"dryRun": "All"} if dry_run else None
        self.request("DELETE", info.path(namespace=namespace, name=name), query=query, body=body)


class Stream:
    """An open watch. Iterating yields its events; :meth:`close`, from any thread, ends the iteration
    at once (a reader blocked waiting for the next event wakes up to the end of the stream)."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self._lock = threading.Lock()
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        try:
            for chunk in self._response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError):
            return  # timed out, reset, TLS dropped mid-stream, closed: the watch ends
        finally:
            self.close()
            with self._lock:
                self._response.close()
                self._response.release_conn()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                self._response.shutdown()  # wakes a reader blocked in recv


def _counting(base: type[Any], count: Callable[[], None]) -> type[Any]:
    """urllib3's connection class ``base``, calling ``count`` before each connect (the first, and
    each reconnect after the server closed it)."""

    def connect(self: Any) -> None:
        count()
        base.connect(self)

    return type(f"Counted{base.__name__}", (base,), {"connect": connect})


def api_failure(status: int, payload: bytes, *, server: str, context: str) -> ApiFailure:
    """The error for an answer with an error ``status``: the class that names the status (the one
    place statuses are mapped), the server's Status reason and message, where it came from."""
    try:
        body = json.loads(payload)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or payload.decode(errors="replace").strip()[:500] or "(no message)"
    return _FAILURES.get(status, ApiFailure)(
        status,
        str(body.get("reason") or ""),
        message,
        body.get("details") or {},
        server=server,
        context=context,
    )


def _idempotent(method: str, content_type: str) -> bool:
    """May this request be sent twice with the effect of once?

    GET, HEAD, PUT (a full replacement; with a resourceVersion a repeat is refused with 409) and
    DELETE (a repeat finds the object gone, 404, or its uid changed, 409 — callers treat both) are.
    A server-side apply PATCH is: applying the same configuration again changes nothing. POST (create)
    is not, nor other PATCHes: a JSON patch's ``test`` fails on the second try after a first that
    worked, and a merge patch may append.
    """
    if method in ("GET", "HEAD", "PUT", "DELETE"):
        return True
    return method == "PATCH" and content_type == "application/apply-patch+yaml"


def _not_sent(error: urllib3.exceptions.HTTPError) -> bool:
    """The connection was never made (refused, unresolvable, timed out connecting), so the request
    never reached the server: safe to repeat for any method."""
    return isinstance(error, urllib3.exceptions.ConnectTimeoutError)  # NewConnectionError is one


def _transient(error: urllib3.exceptions.HTTPError) -> bool:
    """A failure worth another try: a connection refused, reset or closed, a failed TLS handshake.
    Not a read timeout (the server may still be working on it; waiting again doubles the wait)."""
    return not isinstance(error, urllib3.exceptions.ReadTimeoutError)


def _may_retry(attempt: int, first: float, wait: float = 0.0) -> bool:
    """Sleep before try ``attempt + 1`` and return True, unless the attempts or the budget are spent."""
    if attempt >= RETRY_ATTEMPTS:
        return False
    backoff = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
    delay = max(backoff, min(wait, RETRY_MAX_S))
    if time.monotonic() + delay - first > RETRY_BUDGET_S:
        return False
    time.sleep(delay)
    return True


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (the API server sends whole seconds); 0 if absent."""
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _describe(error: urllib3.exceptions.HTTPError, attempts: int) -> str:
    text = str(error)
    if text.startswith("<") and ">: " in text:  # "<HTTPSConnection(...) at 0x7f...>: Failed to ..."
        text = text.split(">: ", 1)[1]
    tries = f" (tried {attempts} times)" if attempts > 1 else ""
    return f"{text}{tries}"
