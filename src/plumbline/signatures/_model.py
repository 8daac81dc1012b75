"""What a signature check found about one commit: a :class:`Verdict`, in :class:`SignatureState`'s words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SignatureState(StrEnum):
    """How a commit stands against the listed keys.

    * ``good`` — signed by a listed key, and the signature verifies.
    * ``unsigned`` — the commit carries no signature.
    * ``unlisted`` — signed, by a key that is not listed (``signer`` names it).
    * ``bad`` — signed with a listed key, but the signature does not verify (the commit changed after
      signing, another namespace than ``git``, an expired or revoked key).
    * ``unverifiable`` — the signature cannot be checked here (an unknown format such as X.509, a
      broken block, or the verifying program is missing).
    """

    GOOD = "good"
    UNSIGNED = "unsigned"
    UNLISTED = "unlisted"
    BAD = "bad"
    UNVERIFIABLE = "unverifiable"


class SignatureFormat(StrEnum):
    """The kind of signature a commit carries (Git's ``gpg.format``), as findings name it."""

    OPENPGP = "openpgp"
    SSH = "ssh"

    @property
    def shown(self) -> str:
        return "OpenPGP" if self is SignatureFormat.OPENPGP else "SSH"


@dataclass(frozen=True)
class Verdict:
    """One commit's signature, checked. ``key`` is the listed key's name (good or bad); ``signer``
    is who signed as the signature itself says: an OpenPGP fingerprint (or key id) with the user id
    gpgv reports, or an SSH key fingerprint with the principal. ``why`` is the verifier's reason for
    ``bad`` and ``unverifiable``."""

    sha: str
    state: SignatureState
    format: SignatureFormat | None = None
    key: str | None = None
    signer: str = ""
    why: str = ""

    @property
    def good(self) -> bool:
        return self.state is SignatureState.GOOD

    def describe(self) -> str:
        """``signed by OpenPGP key 3DBA… (Alice <alice@example.com>), which is not listed``, and so on."""
        kind = self.format.shown if self.format else "a"
        match self.state:
            case SignatureState.GOOD:
                return f"signed by {self.key} ({kind} key {self.signer})"
            case SignatureState.UNSIGNED:
                return "not signed"
            case SignatureState.UNLISTED:
                return f"signed by {kind} key {self.signer}, which is not listed"
            case SignatureState.BAD:
                return f"signed with listed key {self.key} ({kind} key {self.signer}), but {self.why}"
            case SignatureState.UNVERIFIABLE:
                return f"signed, but the signature cannot be verified: {self.why}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "sha": self.sha,
            "state": self.state.value,
            "format": self.format.value if self.format else None,
            "key": self.key,
            "signer": self.signer or None,
            "why": self.why or None,
        }
