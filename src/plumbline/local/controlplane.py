"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

The same code serves the test suite (``with ControlPlane.temporary() as cp: ...``) and users
(``plumb local up``, which starts it *detached* so it outlives the command).

Guarantees:

* Start-up is bounded in time. If any component fails to start or to become ready, every process
  already started is stopped, and :class:`ControlPlaneError` carries the tail of that component's log.
* An attached control plane (the default) cannot outlive the Python process that started it: each
  child gets ``PR_SET_PDEATHSIG`` = SIGKILL. Its folder is removed on stop; a folder left behind by a
  process that was killed outright is removed by the next start (``sweep_stale``).
* A detached control plane records its process ids in ``pids.json`` so ``plumb local down`` (another
  process) can stop it.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from plumbline import toolchain
from plumbline.errors import ControlPlaneError
from plumbline.local.pki import Pki, write_pki

SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's default: room for thousands of Services
SERVICE_IP = "10.96.0.1"  # the first address of SERVICE_CIDR: the `kubernetes` Service
CONTEXT = "plumbline-local"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
TEMP_PREFIX = "plumbline-cp-"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int


@dataclass
class Component:
    """One process of the harness and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


class Server:
    """A server of the harness, run for a ``with`` block: started on entry, stopped on exit."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ControlPlane(Server):
    """One control plane living in ``directory``.

    ``apiserver_port`` fixes the API server's port (else a free one is chosen). ``detach`` starts the
    processes in their own session, not tied to this process's life. ``remove_directory`` deletes
    ``directory`` on stop.
    """

    directory: Path
    apiserver_port: int | None = None
    detach: bool = False
    remove_directory: bool = False
    controller_manager: bool = True
    progress: Progress = _quiet
    ready_timeout: float = READY_TIMEOUT_S
    ports: Ports | None = None
    started_in: float | None = None
    _components: list[Component] = field(default_factory=list)
    _pki: Pki | None = None

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def temporary(cls, **kwargs: object) -> Iterator[ControlPlane]:
        """A control plane in a fresh temporary folder, stopped and removed when the block ends."""
        directory = owned_temporary_folder(TEMP_PREFIX)
        with cls(directory=directory, remove_directory=True, **kwargs) as plane:  # type: ignore[arg-type]
            yield plane

    # ---- public surface -----------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def server(self) -> str:
        if self.ports is None:
            raise ControlPlaneError("the control plane has not been started")
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def start(self) -> None:
        """Start etcd, kube-apiserver and kube-controller-manager and wait until they are ready."""
        # Find (or build) binaries before anything runs: a build can take minutes, a start must not.
        bins = {
            name: toolchain.binary(name, progress=self.progress)
            for name in ("etcd", "kube-apiserver", "kube-controller-manager")
            if name != "kube-controller-manager" or self.controller_manager
        }
        if self.apiserver_port is not None and not _port_free(self.apiserver_port):
            raise ControlPlaneError(
                f"port {self.apiserver_port} on 127.0.0.1 is already in use by another process; "
                f"stop it or choose another port"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        attempts = 1 if self.apiserver_port is not None else 3
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(bins)
                break
            except _PortRace:
                # A free port picked a moment ago was taken before the server bound it.
                self.stop(keep_directory=True)
                if attempt == attempts:
                    raise ControlPlaneError(
                        f"could not find free loopback ports for the control plane after {attempts} attempts"
                    ) from None
            except BaseException:
                self.stop()
                raise
        self.started_in = time.monotonic() - began

    def stop(self, *, keep_directory: bool = False) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period) and clean up."""
        for component in reversed(self._components):
            _terminate(component.process.pid, component.process)
        self._components.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "pids.json").unlink()
        if self.remove_directory and not keep_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # ---- start-up -----------------------------------------------------------------------------

    def _start_once(self, bins: dict[str, Path]) -> None:
        ports = Ports(
            etcd=free_port(),
            etcd_peer=free_port(),
            apiserver=self.apiserver_port or free_port(),
            controller_manager=free_port(),
        )
        self.ports = ports
        pki_dir = self.directory / "pki"
        pki_dir.mkdir(exist_ok=True)
        self._pki = pki = write_pki(pki_dir, service_ip=SERVICE_IP)
        etcd_data = self.directory / "etcd"
        shutil.rmtree(etcd_data, ignore_errors=True)
        deadline = time.monotonic() + self.ready_timeout

        self.progress("starting etcd")
        etcd = self._spawn(
            "etcd",
            [
                str(bins["etcd"]),
                "--name=default",
                f"--data-dir={etcd_data}",
                f"--listen-client-urls=http://127.0.0.1:{ports.etcd}",
                f"--advertise-client-urls=http://127.0.0.1:{ports.etcd}",
                f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{ports.etcd_peer}",
                "--unsafe-no-fsync=true",  # a throwaway store: durability buys nothing here
                "--log-level=warn",
            ],
        )
        self._wait(etcd, deadline, lambda: http_ok(f"http://127.0.0.1:{ports.etcd}/health", b'"true"'))

        self.progress("starting kube-apiserver")
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(bins["kube-apiserver"]),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports.apiserver}",
                f"--etcd-servers=http://127.0.0.1:{ports.etcd}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        self._write_kubeconfig(pki, ports.apiserver)
        client_ctx = self.client_context()
        self._wait(
            apiserver,
            deadline,
            lambda: http_ok(f"https://127.0.0.1:{ports.apiserver}/readyz", b"ok", context=client_ctx),
        )

        if self.controller_manager:
            self.progress("starting kube-controller-manager")
            kcm = self._spawn(
                "kube-controller-manager",
                [
                    str(bins["kube-controller-manager"]),
                    f"--kubeconfig={self.kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={ports.controller_manager}",
                    f"--service-account-private-key-file={pki.sa_key}",
                    f"--root-ca-file={pki.ca_cert}",
                    f"--cluster-signing-cert-file={pki.ca_cert}",
                    f"--cluster-signing-key-file={pki.ca_key}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=false",
                    "--profiling=false",
                ],
            )
            insecure = self_signed()
            self._wait(
                kcm,
                deadline,
                lambda: http_ok(
                    f"https://127.0.0.1:{ports.controller_manager}/healthz", b"ok", context=insecure
                ),
            )

    def start_component(
        self, name: str, argv: list[str], ready: Callable[[], bool], *, env: dict[str, str] | None = None
    ) -> None:
        """Run one more process beside the control plane (kube-scheduler, KWOK), until ``ready()``.

        It lives and dies like the others: attached or detached as the plane is, recorded for
        ``plumb local down``, stopped by :meth:`stop`. A process that exits or is not ready in time
        is stopped, and :class:`ControlPlaneError` carries its log's tail.
        """
        if self.ports is None:
            raise ControlPlaneError("the control plane has not been started")
        component = self._track(spawn(name, argv, self.directory, detach=self.detach, env=env))
        try:
            self._wait(component, time.monotonic() + self.ready_timeout, ready, retry_ports=False)
        except BaseException:
            _terminate(component.process.pid, component.process)
            self._components.remove(component)
            self._record_pids()
            raise

    def client_context(self) -> ssl.SSLContext:
        """TLS for talking to this API server as its admin (the client certificate of its PKI)."""
        if self._pki is None:
            raise ControlPlaneError("the control plane has not been started")
        context = ssl.create_default_context(cafile=str(self._pki.ca_cert))
        context.load_cert_chain(str(self._pki.admin_cert), str(self._pki.admin_key))
        return context

    def _spawn(self, name: str, argv: list[str]) -> Component:
        return self._track(spawn(name, argv, self.directory, detach=self.detach))

    def _track(self, component: Component) -> Component:
        self._components.append(component)
        self._record_pids()
        return component

    def _wait(
        self, component: Component, deadline: float, ready: Callable[[], bool], *, retry_ports: bool = True
    ) -> None:
        try:
            wait_ready(component, deadline, ready, timeout=self.ready_timeout)
        except ControlPlaneError as error:
            exited = component.process.poll() is not None
            if (
                exited
                and retry_ports
                and self.apiserver_port is None
                and "address already in use" in str(error)
            ):
                raise _PortRace() from None
            raise

    def _record_pids(self) -> None:
        record = {
            "pids": {c.name: c.process.pid for c in self._components},
            "ports": vars(self.ports) if self.ports else None,
            "started": time.time(),
        }
        (self.directory / "pids.json").write_text(json.dumps(record, indent=2) + "\n")

    def _write_kubeconfig(self, pki: Pki, port: int) -> None:
        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        self.kubeconfig.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {b64(pki.ca_cert)}
users:
- name: {CONTEXT}-admin
  user:
    client-certificate-data: {b64(pki.admin_cert)}
    client-key-data: {b64(pki.admin_key)}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}-admin
current-context: {CONTEXT}
"""
        )
        self.kubeconfig.chmod(0o600)


class _PortRace(Exception):
    pass


# ---- processes recorded on disk (for `plumb local down` and stale folders) ----------------------


def recorded_pids(directory: Path) -> dict[str, int]:
    """The process ids a control plane in ``directory`` recorded, or {} if there is no record."""
    try:
        record = json.loads((directory / "pids.json").read_text())
        return {str(k): int(v) for k, v in record["pids"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def stop_recorded(directory: Path) -> list[str]:
    """Stop the processes recorded in ``directory``; return the names of those that were running."""
    stopped = []
    for name, pid in reversed(list(recorded_pids(directory).items())):
        if process_alive(pid):
            _terminate(pid, None)
            stopped.append(name)
    with contextlib.suppress(FileNotFoundError):
        (directory / "pids.json").unlink()
    return stopped


def owned_temporary_folder(prefix: str) -> Path:
    """A fresh temporary folder named ``prefix…`` and marked as this process's, after removing the
    folders of that prefix whose owner died (``sweep_stale``)."""
    sweep_stale(prefix)
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    (directory / "owner").write_text(str(os.getpid()))
    return directory


def sweep_stale(prefix: str = TEMP_PREFIX) -> None:
    """Remove temporary harness folders (``prefix``: control planes by default) whose owning process
    no longer exists."""
    for directory in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((directory / "owner").read_text())
        except (OSError, ValueError):
            owner = -1
        if owner > 0 and process_alive(owner):
            continue
        stop_recorded(directory)
        shutil.rmtree(directory, ignore_errors=True)


# ---- one process: started, waited for ----------------------------------------------------------


def spawn(
    name: str, argv: list[str], directory: Path, *, detach: bool = False, env: dict[str, str] | None = None
) -> Component:
    """Start ``argv`` with its output in ``directory/<name>.log``; unless ``detach``, it dies with us."""
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=detach,
            preexec_fn=None if detach else _die_with_parent,
        )
    return Component(name=name, process=process, log=log)


def wait_ready(component: Component, deadline: float, ready: Callable[[], bool], *, timeout: float) -> None:
    """Poll ``ready()`` until it holds; :class:`ControlPlaneError` with the log's tail if the process
    exits first or ``deadline`` (``timeout`` seconds from the start, for the message) passes."""
    while True:
        code = component.process.poll()
        if code is not None:
            raise ControlPlaneError(
                f"{component.name} exited with code {code} while starting. Its log "
                f"({component.log}) ends with:\n{_tail(component.log)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise ControlPlaneError(
                f"{component.name} did not become ready within {timeout:.0f}s. "
                f"Its log ({component.log}) ends with:\n{_tail(component.log)}"
            )
        time.sleep(0.1)


def stop_process(component: Component) -> None:
    """SIGTERM, then SIGKILL after a grace period."""
    _terminate(component.process.pid, component.process)


# ---- small helpers ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the parent dies, however it dies (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _terminate(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not process_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def self_signed() -> ssl.SSLContext:
    """TLS that accepts any certificate: for health checks of components whose serving certificate is
    self-signed, made at their start (kube-controller-manager, kube-scheduler) on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http_ok(url: str, expect: bytes, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0, context=context) as response:
            return bool(response.status == 200 and expect in response.read())
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
