"""Talking to one Kubernetes API server: raw JSON over a pooled HTTPS connection.

The official client loads the kubeconfig (certificates, tokens, exec plugins); requests then go out
through our own urllib3 pool as plain JSON, without (de)serialising into generated models — plumbline
compares objects as data, and for thousands of objects the models cost more than the network.

Every method is thread-safe; callers parallelise with :meth:`Cluster.map`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3

from plumbline.cluster import kubeconfig as kubeconfig_module
from plumbline.cluster.discovery import Discovery, ResourceInfo
from plumbline.errors import ClusterError

FIELD_MANAGER = "plumbline"
DEFAULT_TIMEOUT_S = 30.0
PARALLELISM = 16

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ApiFailure(Exception):
    """A request the API server answered with an error status. ``reason`` is the Status reason."""

    status: int
    reason: str
    message: str
    details: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


class Cluster:
    """One API server, reached through a kubeconfig (``context`` picks one of its contexts)."""

    def __init__(self, *, kubeconfig: Path | None = None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        credentials = kubeconfig_module.load(kubeconfig, context)
        self.server = credentials.server
        self._authorization = credentials.authorization
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=PARALLELISM * 2,
            block=True,
            ssl_context=credentials.ssl_context,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=DEFAULT_TIMEOUT_S),
        )
        self._executor = ThreadPoolExecutor(max_workers=PARALLELISM, thread_name_prefix="plumbline-api")
        self._discovery: Discovery | None = None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._pool.clear()

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
    ) -> Any:
        """One request; returns the decoded JSON body (None unless ``decode``). Error statuses raise
        :class:`ApiFailure`."""
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = self._headers(content_type) if body is not None else self._headers()
        if accept:
            headers["Accept"] = accept
        data = json.dumps(body).encode() if body is not None else None
        try:
            response = self._pool.request(
                method,
                url,
                body=data,
                headers=headers,
                timeout=urllib3.Timeout(connect=5.0, read=timeout or DEFAULT_TIMEOUT_S),
            )
        except urllib3.exceptions.HTTPError as error:
            raise ClusterError(f"cannot reach the API server at {self.server}: {error}") from None
        payload = response.data
        if response.status >= 400:
            raise _failure(response.status, payload)
        if not payload or not decode:
            return None
        return json.loads(payload)

    def stream(self, path: str, *, query: dict[str, str], timeout: float) -> Iterator[dict[str, Any]]:
        """A watch: yields each event ({type, object}) until the server ends it or ``timeout`` passes."""
        url = self.server + path + "?" + urllib.parse.urlencode({**query, "watch": "true"})
        response = self._pool.request(
            "GET",
            url,
            headers=self._headers(),
            preload_content=False,
            timeout=urllib3.Timeout(connect=5.0, read=timeout),
        )
        try:
            if response.status >= 400:
                raise _failure(response.status, response.read())
            buffer = b""
            for chunk in response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            return
        finally:
            response.release_conn()

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
        try:
            result: dict[str, Any] = self.request("GET", info.path(namespace=namespace, name=name))
        except ApiFailure as failure:
            if failure.status == 404:
                return None
            raise
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
        dry_run: bool = False,
        propagation: str = "Background",
    ) -> None:
        """Delete one object. ``uid`` is a precondition: a different object of the same name survives."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        query = {"dryRun": "All"} if dry_run else None
        self.request("DELETE", info.path(namespace=namespace, name=name), query=query, body=body)


def _failure(status: int, payload: bytes) -> ApiFailure:
    try:
        body = json.loads(payload)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or payload.decode(errors="replace")[:500] or "(no message)"
    return ApiFailure(
        status=status,
        reason=str(body.get("reason") or ""),
        message=message,
        details=body.get("details") or {},
    )
