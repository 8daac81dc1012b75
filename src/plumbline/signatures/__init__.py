"""Signed commits: whether a revision's commits are signed by keys the configuration lists.

An Environment or a Project may carry ``spec.signatures`` (:class:`plumbline.config.Signatures`): a
``mode`` (``head``: the synced commit; ``strict``: every commit since the last verified one) and the
keys, OpenPGP (checked with ``gpgv``) or SSH (checked with ``ssh-keygen -Y verify``, namespace
``git``). The environment guard turns each commit that is not :attr:`SignatureState.GOOD` into a
blocking finding naming the signer.

    verdicts = verify_revision(mirror_path, sha, env.spec.signatures, since=last_synced_sha)
    bad = [v for v in verdicts if not v.good]

:func:`check_required` checks every requirement an app's Environment and Project carry (a
:class:`Checked` each): what the environment guard blocks on and ``plumb diff`` shows.

:func:`dearmor`, :func:`ssh_key` and :func:`ssh_signature` read keys and signatures from their text
forms (configuration validation uses the first two); :class:`KeyFormatError` says what is wrong.
"""

from plumbline.signatures._check import Checked, check_required
from plumbline.signatures._keys import KeyFormatError, SshKey, SshSignature, dearmor, ssh_key, ssh_signature
from plumbline.signatures._model import SignatureFormat, SignatureState, Verdict
from plumbline.signatures._read import MAX_COMMITS, commits_since, verify_revision
from plumbline.signatures._verify import NAMESPACE, verify_commit

__all__ = [
    "MAX_COMMITS",
    "NAMESPACE",
    "Checked",
    "KeyFormatError",
    "SignatureFormat",
    "SignatureState",
    "SshKey",
    "SshSignature",
    "Verdict",
    "check_required",
    "commits_since",
    "dearmor",
    "ssh_key",
    "ssh_signature",
    "verify_commit",
    "verify_revision",
]
