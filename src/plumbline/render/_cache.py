"""Renders kept in memory, so a controller pass over an app whose commit has not changed renders
nothing (issue 16). What the cache may hold, and when it is used, is the caller's to decide: the key
must name everything the render reads (docs/controller.md says what the engine puts in it)."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from enum import StrEnum

from plumbline.render._manifest import Manifest

RENDER_CACHE_SIZE = 1024
"""Renders a :class:`RenderCache` keeps by default: one per app and commit, the least recently used
dropped first."""


class Lookup(StrEnum):
    """How a :class:`RenderCache` answered: with a render it kept, or by rendering."""

    HIT = "hit"
    MISS = "miss"


class RenderCache:
    """A bounded, least-recently-used map from a render's key to its manifests, safe to share between
    threads. Each caller gets its own copy of the objects (the plan fills defaults into them), so a
    cached render is never changed by its use."""

    def __init__(self, size: int = RENDER_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError("a render cache holds at least one render")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._renders: OrderedDict[Hashable, list[Manifest]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._renders)

    def lookups(self) -> dict[Lookup, int]:
        """How many lookups found a kept render, and how many rendered (the controller's metrics)."""
        return {Lookup.HIT: self.hits, Lookup.MISS: self.misses}

    def get_or_render(self, key: Hashable, render: Callable[[], list[Manifest]]) -> list[Manifest]:
        """The manifests cached under ``key``, else ``render()``'s (kept under ``key``; a render that
        raises keeps nothing). Two threads missing the same key may both render; the last one kept
        wins, and both are the same render."""
        with self._lock:
            found = self._renders.get(key)
            if found is not None:
                self._renders.move_to_end(key)
                self.hits += 1
                return copy.deepcopy(found)
            self.misses += 1
        manifests = render()
        kept = copy.deepcopy(manifests)
        with self._lock:
            self._renders[key] = kept
            self._renders.move_to_end(key)
            while len(self._renders) > self.size:
                self._renders.popitem(last=False)
        return manifests
