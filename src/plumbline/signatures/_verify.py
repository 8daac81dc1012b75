"""Checking a commit's signature against listed keys: OpenPGP with ``gpgv``, SSH with ``ssh-keygen -Y
verify`` (namespace ``git``, an allowed-signers file built from the keys).

The signed payload and the signature come from the commit object itself (dulwich's
``extract_signature``: the raw commit without its ``gpgsig`` header, and that header), exactly what
``git verify-commit`` feeds the same programs. Both programs run with a throw-away home folder, so no
user keyring or ``allowed_signers`` file is ever consulted: only the keys in the configuration count.

A commit's verdict depends only on the commit and the keys, so verdicts are remembered per process.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dulwich.errors import ObjectFormatException
from dulwich.objects import Commit

from plumbline.config import SigningKey
from plumbline.signatures._keys import KeyFormatError, dearmor, ssh_key, ssh_signature
from plumbline.signatures._model import SignatureFormat, SignatureState, Verdict

TIMEOUT_S = 30.0
NAMESPACE = "git"  # what git signs commits in (ssh-keygen -Y sign -n git)
_CACHE_SIZE = 4096
_cache: dict[tuple[bytes, tuple[tuple[str, str | None, str | None], ...]], Verdict] = {}


def verify_commit(commit: Commit, keys: Sequence[SigningKey]) -> Verdict:
    """``commit``'s signature against ``keys``. Never raises for a bad signature: the verdict says it."""
    memo = (commit.id, tuple((k.name, k.openpgp, k.ssh) for k in keys))
    if memo in _cache:
        return _cache[memo]
    verdict = _verify(commit, keys)
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[memo] = verdict
    return verdict


def _verify(commit: Commit, keys: Sequence[SigningKey]) -> Verdict:
    sha = commit.id.decode()
    try:
        payload, signature, kind = commit.extract_signature()
    except ObjectFormatException:  # a signature of an unknown format (X.509, ...)
        why = "the commit's signature is of a format plumbline does not verify (OpenPGP and SSH are)"
        return Verdict(sha, SignatureState.UNVERIFIABLE, why=why)
    if signature is None:
        return Verdict(sha, SignatureState.UNSIGNED)
    if kind == b"ssh":
        return _ssh(sha, payload, signature, keys)
    return _openpgp(sha, payload, signature, keys)


def _run(args: list[str], *, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT_S, check=False)


_PGP_BAD = {
    "BADSIG": "the signature does not match the commit (it changed after signing)",
    "EXPKEYSIG": "the key has expired",
    "REVKEYSIG": "the key has been revoked",
    "EXPSIG": "the signature has expired",
}
_NO_PUBKEY = "9"  # ERRSIG's return code when the keyring lacks the key; any other: not checkable


def _openpgp(sha: str, payload: bytes, signature: bytes, keys: Sequence[SigningKey]) -> Verdict:
    fmt = SignatureFormat.OPENPGP
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, why="gpgv is not installed (Debian: gpgv)")
    signer = ""
    with tempfile.TemporaryDirectory(prefix="plumbline-gpgv-") as temp:
        folder = Path(temp)
        (folder / "home").mkdir(mode=0o700)
        (folder / "sig").write_bytes(signature)
        (folder / "payload").write_bytes(payload)
        # One keyring per key, so a good signature names the key that made it. With no OpenPGP key
        # listed, an empty keyring still makes gpgv say who signed.
        listed: list[SigningKey | None] = [k for k in keys if k.openpgp is not None]
        for key in listed or [None]:
            keyring = folder / "keyring.gpg"
            keyring.write_bytes(dearmor(key.openpgp) if key is not None and key.openpgp else b"")
            command = [gpgv, "--homedir", str(folder / "home"), "--status-fd", "1", "--keyring", str(keyring)]
            try:
                done = _run([*command, str(folder / "sig"), str(folder / "payload")])
            except subprocess.TimeoutExpired:
                return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, why=f"gpgv took over {TIMEOUT_S:.0f}s")
            status = _status(done.stdout)
            if key is not None and "GOODSIG" in status and "VALIDSIG" in status:
                who = _who(status["VALIDSIG"][-1], status["GOODSIG"][1:])
                return Verdict(sha, SignatureState.GOOD, fmt, key.name, who)
            for word, why in _PGP_BAD.items():
                if key is not None and word in status:
                    who = _who(status[word][0], status[word][1:])
                    return Verdict(sha, SignatureState.BAD, fmt, key.name, who, why)
            if "ERRSIG" in status:
                fields = status["ERRSIG"]
                signer = fields[6] if len(fields) > 6 else fields[0]
                if len(fields) > 5 and fields[5] != _NO_PUBKEY:
                    why = f"gpgv cannot check it (error {fields[5]}): {_last_line(done.stderr)}"
                    return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, signer=signer, why=why)
            elif "NEWSIG" not in status:
                why = f"gpgv cannot read the signature: {_last_line(done.stderr)}"
                return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, why=why)
    return Verdict(sha, SignatureState.UNLISTED, fmt, signer=signer or "(unknown)")


def _status(stdout: bytes) -> dict[str, list[str]]:
    """gpgv's ``--status-fd`` lines (``[GNUPG:] WORD ARGS``): WORD to its arguments (the last of each)."""
    found = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("[GNUPG:] "):
            word, *args = line[len("[GNUPG:] ") :].split(" ")
            found[word] = args
    return found


def _who(key: str, uid: list[str]) -> str:
    name = " ".join(uid).strip()
    return f"{key} ({name})" if name else key


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no reason given"


def _ssh(sha: str, payload: bytes, signature: bytes, keys: Sequence[SigningKey]) -> Verdict:
    fmt = SignatureFormat.SSH
    try:
        signed = ssh_signature(signature)
    except KeyFormatError as error:
        return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, why=str(error))
    signer = signed.key.fingerprint
    key = next((k for k in keys if k.ssh is not None and ssh_key(k.ssh).blob == signed.key.blob), None)
    if key is None:
        return Verdict(sha, SignatureState.UNLISTED, fmt, signer=signer)
    who = f"{signer}, principal {key.name}"
    if signed.namespace != NAMESPACE:
        why = f"it was made for the namespace {signed.namespace!r}, not {NAMESPACE!r}"
        return Verdict(sha, SignatureState.BAD, fmt, key.name, who, why)
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        why = "ssh-keygen is not installed (Debian: openssh-client)"
        return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, key.name, who, why)
    with tempfile.TemporaryDirectory(prefix="plumbline-sshsig-") as temp:
        folder = Path(temp)
        allowed = folder / "allowed_signers"
        allowed.write_text(f'{key.name} namespaces="{NAMESPACE}" {ssh_key(key.ssh or "").line}\n')
        (folder / "sig").write_bytes(signature)
        args = [
            keygen,
            "-Y",
            "verify",
            "-f",
            str(allowed),
            "-I",
            key.name,
            "-n",
            NAMESPACE,
            "-s",
            str(folder / "sig"),
        ]
        try:
            done = _run(args, stdin=payload)
        except subprocess.TimeoutExpired:
            why = f"ssh-keygen took over {TIMEOUT_S:.0f}s"
            return Verdict(sha, SignatureState.UNVERIFIABLE, fmt, key.name, who, why)
    if done.returncode == 0:
        return Verdict(sha, SignatureState.GOOD, fmt, key.name, who)
    why = f"ssh-keygen -Y verify refuses it: {_last_line(done.stderr)}"
    return Verdict(sha, SignatureState.BAD, fmt, key.name, who, why)
