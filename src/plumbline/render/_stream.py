"""Splitting a tool's multi-document YAML output into its documents, before parsing any of them.

The whole output of a large chart can exceed what :mod:`plumbline.yamlio` reads from one file,
while each document stays small; and Helm marks each document with the template it came from.
A line starting with ``---`` at column 0 always starts a new YAML document (block scalars are
indented), so splitting there is safe.
"""

from __future__ import annotations

import re

_START = re.compile(r"^---(?:\s|$)")


def split_documents(text: str) -> list[str]:
    """The documents of ``text``, each with its own ``---`` line; blank ones dropped."""
    chunks: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _START.match(line):
            chunks.append([])
        chunks[-1].append(line)
    return [joined for chunk in chunks if (joined := "".join(chunk)).strip().strip("-").strip()]
