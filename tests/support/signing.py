"""Signing keys a test makes for itself, and commits signed with them by real ``git``.

OpenPGP keys live in a throw-away ``GNUPGHOME`` (``gpg --batch --quick-gen-key``; its gpg-agent is
stopped when the keys are dropped); SSH keys are ``ssh-keygen -t ed25519`` files. :func:`signed_commit`
commits the work tree with ``git commit -S`` as a user of that key would.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.git import git


@dataclass(frozen=True)
class Signer:
    """One key: ``public`` as the configuration lists it, ``fingerprint`` as findings name it."""

    name: str
    kind: str  # "openpgp" or "ssh", the configuration's field
    public: str
    fingerprint: str
    git_config: tuple[str, ...]  # the `git -c` settings that make `commit -S` sign with it
    env: dict[str, str] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        """The key as ``spec.signatures.keys`` lists it."""
        return {"name": self.name, self.kind: self.public}


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    return done.stdout


@contextmanager
def keys() -> Iterator[Keys]:
    """A place to make keys in (short path: gpg-agent's socket lives there), removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="plsig-"))
    made = Keys(home)
    try:
        yield made
    finally:
        if made.gnupg.exists():
            subprocess.run(["gpgconf", "--homedir", str(made.gnupg), "--kill", "gpg-agent"], check=False)
        shutil.rmtree(home, ignore_errors=True)


class Keys:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.gnupg = home / "gnupg"

    def openpgp(self, name: str) -> Signer:
        """A new ed25519 OpenPGP signing key for ``name <name@example.com>``."""
        self.gnupg.mkdir(mode=0o700, exist_ok=True)
        env = {"GNUPGHOME": str(self.gnupg), "PATH": "/usr/bin:/bin"}
        uid = f"{name} <{name}@example.com>"
        _run(
            "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never", env=env
        )
        listing = _run("gpg", "--batch", "--with-colons", "--list-keys", uid, env=env)
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        public = _run("gpg", "--batch", "--armor", "--export", fingerprint, env=env)
        config = ("-c", "gpg.format=openpgp", "-c", f"user.signingkey={fingerprint}")
        return Signer(name, "openpgp", public, fingerprint, config, {"GNUPGHOME": str(self.gnupg)})

    def ssh(self, name: str) -> Signer:
        """A new ed25519 SSH key, without a passphrase."""
        private = self.home / f"{name}-ssh"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", str(private))
        public = private.with_suffix(".pub").read_text().strip()
        printed = _run("ssh-keygen", "-l", "-E", "sha256", "-f", str(private.with_suffix(".pub")))
        config = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={private}")
        return Signer(name, "ssh", public, printed.split()[1], config)


def signed_commit(repo: Path, message: str, signer: Signer | None) -> str:
    """Commit everything in ``repo``'s work tree, signed by ``signer`` (None: unsigned); the SHA."""
    git(repo, "add", "-A")
    if signer is None:
        git(repo, "commit", "-q", "--allow-empty", "-m", message)
    else:
        git(repo, *signer.git_config, "commit", "-q", "--allow-empty", "-S", "-m", message, env=signer.env)
    return git(repo, "rev-parse", "HEAD")
