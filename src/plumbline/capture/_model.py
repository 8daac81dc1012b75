"""The data a capture produces: file edits, what they capture, and what could not be captured."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from plumbline.plan.attribution import FieldChange
from plumbline.plan.model import ObjectRef

SECRET_VALUE = "(secret value)"


def is_secret(ref: ObjectRef) -> bool:
    return ref.group == "" and ref.kind == "Secret"


def shown_value(ref: ObjectRef, value: Any) -> str:
    """A value as people (and commit messages) may see it: never a Secret's."""
    if is_secret(ref):
        return SECRET_VALUE
    if value is None:
        return "(absent)"
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class FileEdit:
    """One file to write: ``path`` relative to the repository root, its whole new ``content``, and a
    unified diff of the change for people (``created`` when the file did not exist)."""

    path: str
    content: str
    diff: str
    created: bool = False


@dataclass(frozen=True)
class _OneField:
    """About one drifted field: its change, the object and the field's pointer."""

    change: FieldChange

    @property
    def ref(self) -> ObjectRef:
        return self.change.ref

    @property
    def pointer(self) -> str:
        return self.change.pointer


@dataclass(frozen=True)
class Captured(_OneField):
    """A field whose live value the edits put into Git, and where (``file``: the file that holds it)."""

    file: str
    how: str  # "edited in place" | "kustomize patch" | "helm value <file>: <key path>"

    @property
    def live(self) -> Any:
        return self.change.live

    def describe(self) -> str:
        """``ConfigMap shop/users-api-env /data/DB_HOST = "b" (helm value values-prod.yaml: db.host)``"""
        return f"{self.ref} {self.pointer} = {shown_value(self.ref, self.live)} ({self.how})"


@dataclass(frozen=True)
class Unmapped(_OneField):
    """A field that could not be captured, why, and (where one can be written) the strategic-merge
    patch that would express it, for a person to place by hand."""

    reason: str
    patch: str | None = None

    @property
    def shown_patch(self) -> str | None:
        """The patch as people may see it: never a Secret's."""
        return None if is_secret(self.ref) else self.patch

    def describe(self) -> str:
        return f"{self.ref} {self.pointer}: {self.reason}"


@dataclass(frozen=True)
class CaptureCommit:
    """A capture written: the new commit on its new branch of ``repo``, whose parent is ``base``."""

    sha: str
    branch: str
    repo: str
    base: str

    def to_dict(self) -> dict[str, str]:
        return {"sha": self.sha, "branch": self.branch, "repo": self.repo, "base": self.base}


@dataclass
class CapturePlan:
    """What capturing live drift into Git means for one app at one commit.

    ``edits`` are whole-file writes (apply them to a working copy of that commit, or hand them to
    :func:`plumbline.capture.write_capture`). Every field is either in ``captured`` (the edits make the
    re-rendered app carry the live value; this was checked by rendering) or in ``unmapped``.
    """

    edits: list[FileEdit] = field(default_factory=list)
    captured: list[Captured] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.edits

    @property
    def diff(self) -> str:
        return "".join(edit.diff for edit in self.edits)

    def shown_diff(self, edit: FileEdit) -> str | None:
        """``edit``'s diff as people may see it: None for a file that holds a captured Secret field."""
        secret_files = {c.file for c in self.captured if is_secret(c.ref)}
        return None if edit.path in secret_files else edit.diff

    def to_dict(self, *, app: str, base: str, commit: CaptureCommit | None = None) -> dict[str, Any]:
        """The capture as ``plumb capture -o json`` prints it (Secrets' values, patches and diffs
        withheld); ``commit`` the one written, if any."""
        return {
            "app": app,
            "base": base,
            "captured": [
                {
                    "object": str(c.ref),
                    "field": c.pointer,
                    "value": shown_value(c.ref, c.live),
                    "file": c.file,
                    "how": c.how,
                }
                for c in self.captured
            ],
            "unmapped": [
                {"object": str(u.ref), "field": u.pointer, "reason": u.reason, "patch": u.shown_patch}
                for u in self.unmapped
            ],
            "edits": [{"path": e.path, "created": e.created, "diff": self.shown_diff(e)} for e in self.edits],
            "commit": commit.to_dict() if commit else None,
        }

    def summary(self) -> str:
        """The lines a commit message lists: one per captured field, then what was left out."""
        lines = [f"- {c.describe()}" for c in self.captured]
        if self.unmapped:
            lines.append("")
            lines.append("Not captured:")
            lines += [f"- {u.describe()}" for u in self.unmapped]
        return "\n".join(lines)


def commit_message(*, app: str, plan: CapturePlan) -> str:
    """The commit message for a capture: a subject, then each captured field (Secrets' values hidden)."""
    count = len(plan.captured)
    subject = f"capture: {app}: {count} live field{'s' if count != 1 else ''} into Git"
    return f"{subject}\n\nCaptured from the live cluster by `plumb capture`:\n{plan.summary()}\n"
