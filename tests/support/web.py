"""The dashboard as users get it: ``plumb ui`` in a child process, a client with cookies, and users
the session's control plane knows (ServiceAccount tokens, with or without RBAC for plumbline's verbs)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from plumbline.cluster import GROUP, RESOURCE, Cluster
from plumbline.config import DEFAULT_NAMESPACE
from plumbline.errors import ApiConflict
from tests.support import cli


@dataclass
class UI:
    process: subprocess.Popen[str]
    url: str


@contextlib.contextmanager
def ui(env: Mapping[str, str], *args: str) -> Iterator[UI]:
    """``plumb ui`` on a free loopback port (live updates every second), stopped afterwards."""
    port = cli.free_port()
    process = cli.start(
        "ui", "--listen", f"127.0.0.1:{port}", "--no-browser", "--refresh", "1", *args, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(url + "/static/plumbline.css", timeout=2),
            ):
                break
            assert process.poll() is None, f"plumb ui exited with {process.returncode}"
            assert time.monotonic() < deadline, "plumb ui did not start"
            time.sleep(0.2)
        yield UI(process, url)
    finally:
        cli.stop(process, signal.SIGINT, within=20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Client:
    """A browser without JavaScript: cookies kept, redirects not followed (their status is the answer)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(
        self, path: str, form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=dict(headers or {}))
        try:
            with self.opener.open(request, timeout=180) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def get(self, path: str) -> tuple[int, str]:
        status, text, _ = self.request(path)
        return status, text

    def post(
        self, path: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        status, text, _ = self.request(path, form, headers)
        return status, text

    def sign_in(self, token: str) -> int:
        status, page = self.get("/login")
        assert status == 200, page
        status, _ = self.post("/login", {"token": token, "nonce": hidden(page, "nonce"), "next": "/"})
        return status

    def csrf(self, path: str) -> str:
        status, page = self.get(path)
        assert status == 200, page[-2000:]
        return hidden(page, "csrf")


def hidden(page: str, name: str) -> str:
    """The value of the page's hidden input ``name``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


def user(cluster: Cluster, namespace: str, verbs: tuple[str, ...] = ()) -> tuple[str, str]:
    """A ServiceAccount in ``namespace`` granted ``verbs`` on plumbline's apps (none: no grant) where
    the App objects of a file's config are (``plumbline-system``, made if missing); its username and
    a bearer token for it (TokenRequest)."""
    name = f"u-{uuid.uuid4().hex[:6]}"
    base = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    cluster.request("POST", base, body=account)
    if verbs:
        with contextlib.suppress(ApiConflict):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEFAULT_NAMESPACE}}
            cluster.request("POST", "/api/v1/namespaces", body=body)
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{DEFAULT_NAMESPACE}"
        rule = {"apiGroups": [GROUP], "resources": [RESOURCE], "verbs": list(verbs)}
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}}
        cluster.request("POST", f"{rbac}/roles", body={**role, "rules": [rule]})
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        cluster.request("POST", f"{rbac}/rolebindings", body=binding)
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    answer = cluster.request("POST", f"{base}/{name}/token", body=request)
    return f"system:serviceaccount:{namespace}:{name}", str(answer["status"]["token"])
