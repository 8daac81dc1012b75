"""The harness's failure paths: every one ends in a clear error, in bounded time, with nothing left running.

Stand-in programs (put first in line through KUBEBUILDER_ASSETS) play the components that misbehave;
the real components' behaviour is covered in tests/integration.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from plumbline.errors import ControlPlaneError
from plumbline.local import ControlPlane
from plumbline.local.controlplane import process_alive, recorded_pids

VERSION = 'if "--version" in sys.argv:\n    print("fake Version: 0"); sys.exit(0)\n'

HEALTHY_ETCD = (
    VERSION
    + """
import http.server, re
port = int(re.search(r"--listen-client-urls=http://127.0.0.1:(\\d+)", " ".join(sys.argv)).group(1))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"health":"true"}')
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""
)
CRASH = VERSION + 'print("fatal: boom, the data dir is unusable", file=sys.stderr)\nsys.exit(1)\n'
HANG = VERSION + "import time\nprint('waiting for nothing', flush=True)\ntime.sleep(3600)\n"


def install(assets: Path, **programs: str) -> None:
    assets.mkdir(exist_ok=True)
    for name, body in programs.items():
        path = assets / name.replace("_", "-")
        path.write_text(f"#!{sys.executable}\nimport sys\n{body}")
        path.chmod(0o755)


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "assets"
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(folder))
    install(folder, kube_apiserver=HANG, kube_controller_manager=HANG)
    return folder


def pids_of(directory: Path) -> dict[str, int]:
    return recorded_pids(directory)


def test_etcd_that_crashes_is_reported_with_its_log(tmp_path: Path, assets: Path) -> None:
    install(assets, etcd=CRASH)
    plane = ControlPlane(directory=tmp_path / "cp", remove_directory=True)
    began = time.monotonic()
    with pytest.raises(ControlPlaneError, match=r"(?s)etcd exited with code 1 while starting.*boom"):
        plane.start()
    assert time.monotonic() - began < 10
    assert not (tmp_path / "cp").exists()


def test_etcd_that_never_gets_ready_times_out_and_is_killed(tmp_path: Path, assets: Path) -> None:
    install(assets, etcd=HANG)
    directory = tmp_path / "cp"
    spawned: list[int] = []
    plane = ControlPlane(directory=directory, ready_timeout=1.5)
    original = plane._spawn

    def spy(name: str, argv: list[str]):  # type: ignore[no-untyped-def]
        component = original(name, argv)
        spawned.append(component.process.pid)
        return component

    plane._spawn = spy  # type: ignore[method-assign]
    began = time.monotonic()
    with pytest.raises(
        ControlPlaneError, match=r"(?s)etcd did not become ready within 2s.*waiting for nothing"
    ):
        plane.start()
    assert time.monotonic() - began < 15
    assert spawned and not any(process_alive(pid) for pid in spawned)
    assert pids_of(directory) == {}


def test_apiserver_crash_stops_the_etcd_already_running(tmp_path: Path, assets: Path) -> None:
    install(assets, etcd=HEALTHY_ETCD, kube_apiserver=CRASH)
    directory = tmp_path / "cp"
    plane = ControlPlane(directory=directory)
    seen: dict[str, int] = {}
    original = plane._spawn

    def spy(name: str, argv: list[str]):  # type: ignore[no-untyped-def]
        component = original(name, argv)
        seen[name] = component.process.pid
        return component

    plane._spawn = spy  # type: ignore[method-assign]
    with pytest.raises(ControlPlaneError, match=r"(?s)kube-apiserver exited with code 1.*boom"):
        plane.start()
    assert set(seen) == {"etcd", "kube-apiserver"}
    assert not process_alive(seen["etcd"])


def test_a_port_already_taken_is_refused_before_anything_starts(tmp_path: Path, assets: Path) -> None:
    install(assets, etcd=HEALTHY_ETCD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        plane = ControlPlane(directory=tmp_path / "cp", apiserver_port=port)
        with pytest.raises(ControlPlaneError, match=f"port {port} on 127.0.0.1 is already in use"):
            plane.start()
    assert pids_of(tmp_path / "cp") == {}
