"""The bytes inside the text forms keys and signatures come in: ASCII-armored OpenPGP blocks, SSH
public key lines (``authorized_keys``) and armored SSH signatures (``SSHSIG``, as ``git`` writes them).

Pure parsing, no I/O: configuration validation uses it to refuse a key that is not one, and the
verifiers use it to name a signer whose key is not listed (an SSH signature carries its public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

_ARMOR = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----", re.S
)
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_SSHSIG_MAGIC = b"SSHSIG"


class KeyFormatError(ValueError):
    """Text that should hold a key or a signature does not; the message says what was expected."""


def dearmor(text: str) -> bytes:
    """The binary OpenPGP packets of an ASCII-armored public key block (what ``gpg --export --armor``
    writes), as ``gpgv --keyring`` takes them. Armor headers and the CRC line are dropped."""
    match = _ARMOR.search(text)
    if match is None:
        raise KeyFormatError(
            "expected an ASCII-armored OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK----- ... "
            "-----END PGP PUBLIC KEY BLOCK-----, as 'gpg --export --armor KEY' prints it)"
        )
    lines = [line.strip() for line in match.group("body").splitlines()]
    if "" in lines:  # armor headers (Comment:, Version:) end at the first blank line
        lines = lines[lines.index("") + 1 :]
    data = "".join(line for line in lines if line and not line.startswith("="))
    try:
        packets = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("the OpenPGP public key block's body is not valid base64") from None
    # A public key packet (tag 6), in the old or the new packet format, must come first.
    if not packets or packets[0] not in (0x98, 0x99, 0x9A, 0xC6):
        raise KeyFormatError(
            "the OpenPGP block does not start with a public key packet (is it a public key?)"
        )
    return packets


@dataclass(frozen=True)
class SshKey:
    """An SSH public key: ``kind`` (``ssh-ed25519``), the key ``blob`` and ``fingerprint``
    (``SHA256:...``, as ``ssh-keygen -l`` prints it)."""

    kind: str
    blob: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def line(self) -> str:
        """``KIND BASE64``, without the comment: how the key goes into an allowed-signers file."""
        return f"{self.kind} {base64.b64encode(self.blob).decode()}"


def fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def ssh_key(line: str) -> SshKey:
    """The key of an ``authorized_keys``-style line: ``KIND BASE64 [COMMENT]`` (no options)."""
    fields = line.split()
    if len(fields) < 2 or fields[0] not in SSH_KEY_TYPES:
        raise KeyFormatError(
            f"expected an SSH public key line 'TYPE BASE64 [COMMENT]' (the contents of a .pub file), "
            f"TYPE one of {', '.join(SSH_KEY_TYPES)}"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("the SSH public key is not valid base64") from None
    inner, _ = _string(blob, 0)
    if inner.decode("ascii", "replace") != fields[0]:
        raise KeyFormatError(f"the SSH public key's data is not a {fields[0]} key")
    return SshKey(fields[0], blob)


@dataclass(frozen=True)
class SshSignature:
    """What an armored SSH signature says of itself: the signer's key and the namespace it signed in.
    Nothing here is verified (``ssh-keygen -Y verify`` does that)."""

    key: SshKey
    namespace: str


def ssh_signature(armored: bytes) -> SshSignature:
    """Parse an ``-----BEGIN SSH SIGNATURE-----`` block (the sshsig format of OpenSSH's PROTOCOL.sshsig)."""
    lines = [line.strip() for line in armored.decode("ascii", "replace").splitlines()]
    body = "".join(line for line in lines if line and not line.startswith("-----"))
    try:
        blob = base64.b64decode(body, validate=True)
        if not blob.startswith(_SSHSIG_MAGIC):
            raise KeyFormatError("not an SSHSIG signature")
        offset = len(_SSHSIG_MAGIC) + 4  # magic, then a uint32 version
        public, offset = _string(blob, offset)
        namespace, offset = _string(blob, offset)
        kind, _ = _string(public, 0)
    except (binascii.Error, ValueError, struct.error) as error:
        raise KeyFormatError(f"the SSH signature cannot be read: {error}") from None
    return SshSignature(SshKey(kind.decode("ascii", "replace"), public), namespace.decode("utf-8", "replace"))


def _string(data: bytes, offset: int) -> tuple[bytes, int]:
    """An SSH wire-format string (uint32 length, then that many bytes) at ``offset``."""
    (length,) = struct.unpack_from(">I", data, offset)
    start = offset + 4
    if start + length > len(data):
        raise KeyFormatError("truncated SSH data")
    return data[start : start + length], start + length
