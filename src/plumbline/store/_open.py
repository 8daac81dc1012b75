"""Which store a run uses, said once: the configuration's ``Instance.spec.store``, overridden for one
run by ``plumb --store`` or ``$PLUMBLINE_STORE_BACKEND``; SQLite when nothing says otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from plumbline.config import STORE_BACKEND_ENV, StoreBackend, StoreSpec
from plumbline.errors import StoreError
from plumbline.store._base import Store
from plumbline.store._kube import KubernetesStore
from plumbline.store._sqlite import SqliteStore, default_path


def _backend(word: str, where: str) -> StoreBackend:
    try:
        return StoreBackend(word.strip().lower())
    except ValueError:
        known = ", ".join(b.value for b in StoreBackend)
        raise StoreError(f"{where}: unknown store backend {word!r} (known: {known})") from None


@dataclass(frozen=True)
class StoreChoice:
    """The store to open: the backend and its settings (``spec``), where the SQLite file is (``path``,
    default :func:`~plumbline.store.default_path`), and which cluster keeps a ``kubernetes`` store
    (``kubeconfig``/``context``; in a Pod, its service account)."""

    spec: StoreSpec = field(default_factory=StoreSpec)
    path: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None

    @property
    def backend(self) -> StoreBackend:
        return self.spec.backend

    @classmethod
    def of(
        cls,
        spec: StoreSpec | None = None,
        *,
        override: str | None = None,
        path: Path | None = None,
        kubeconfig: Path | None = None,
        context: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StoreChoice:
        """The choice for a run: ``override`` (``--store``), else ``$PLUMBLINE_STORE_BACKEND``, else
        ``spec.backend`` (the configuration's), else SQLite. StoreError naming the source of an
        unknown backend."""
        spec = spec or StoreSpec()
        environ = os.environ if env is None else env
        if override:
            backend = _backend(override, "--store")
        elif word := environ.get(STORE_BACKEND_ENV, "").strip():
            backend = _backend(word, f"${STORE_BACKEND_ENV}")
        else:
            backend = spec.backend
        spec = spec.model_copy(update={"backend": backend})
        return cls(spec=spec, path=path, kubeconfig=kubeconfig, context=context)

    @classmethod
    def from_env(cls, *, path: Path | None = None) -> StoreChoice:
        return cls.of(path=path)

    def describe(self) -> str:
        """Where the store is, for ``plumb status``, without opening it."""
        if self.backend is StoreBackend.KUBERNETES:
            return f"Secrets in namespace {self.spec.namespace}"
        return str(self.path or default_path())


def open_store(choice: StoreChoice | None = None) -> Store:
    """Open the store ``choice`` names (default: :meth:`StoreChoice.from_env`)."""
    choice = choice or StoreChoice.from_env()
    if choice.backend is StoreBackend.KUBERNETES:
        return KubernetesStore.connect(
            namespace=choice.spec.namespace,
            history_limit=choice.spec.history_limit,
            key_secret=choice.spec.key_secret,
            kubeconfig=choice.kubeconfig,
            context=choice.context,
        )
    return SqliteStore.open(choice.path)
