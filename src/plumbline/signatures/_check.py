"""An app's signature requirements checked: its Environment's and its Project's, each over the
commits its mode names. What the environment guard blocks on and ``plumb diff`` shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbline.config import Environment, Project, Signatures
from plumbline.errors import SourceError
from plumbline.signatures._model import Verdict
from plumbline.signatures._read import verify_revision


@dataclass(frozen=True)
class Checked:
    """One requirement (``required_by``: ``Environment prod`` or ``Project shop``) over the commits
    it names for ``sha``: each commit's verdict, newest first, or ``error`` when they cannot be read.
    ``since``: the last verified commit a strict check starts after (None: the whole history)."""

    required_by: str
    requirement: Signatures
    sha: str
    since: str | None
    verdicts: tuple[Verdict, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.good]

    def to_dict(self) -> dict[str, Any]:
        """The ``-o json`` form (docs/plan-schema.md)."""
        return {
            "requiredBy": self.required_by,
            "mode": self.requirement.mode.value,
            "since": self.since,
            "error": self.error,
            "commits": [v.to_dict() for v in self.verdicts],
        }


def check_required(
    environment: Environment, project: Project, *, mirror: Path | None, sha: str, since: str | None
) -> list[Checked]:
    """Each signature requirement ``environment`` and ``project`` carry, checked for commit ``sha`` in
    the bare ``mirror`` (None: not at hand, an error); empty when neither requires signatures."""
    required = [
        (f"Environment {environment.name}", environment.spec.signatures),
        (f"Project {project.name}", project.spec.signatures),
    ]
    checked = []
    for who, requirement in required:
        if requirement is None:
            continue
        try:
            if mirror is None:
                raise SourceError("the repository's commits are not at hand to read the signatures from")
            verdicts = verify_revision(mirror, sha, requirement, since=since)
        except SourceError as error:
            checked.append(Checked(who, requirement, sha, since, error=str(error)))
            continue
        checked.append(Checked(who, requirement, sha, since, tuple(verdicts)))
    return checked
