"""One app's cluster and the store, opened together: what every command about one app starts with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from plumbline.cluster import Cluster
from plumbline.config import App, Config
from plumbline.engine._pipeline import Progress, Rendered, _quiet, connect, plan_app
from plumbline.plan import Plan
from plumbline.store import Store, StoreChoice, open_store


@dataclass(frozen=True)
class Session:
    cluster: Cluster
    store: Store


@contextlib.contextmanager
def session(
    app: App,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    store: StoreChoice | None = None,
) -> Iterator[Session]:
    """The app's cluster (``kubeconfig``/``context`` override the app's destination, see
    :func:`connect`) and the store ``store`` chooses (default: :meth:`StoreChoice.from_env`), both
    closed after the block."""
    with connect(app, kubeconfig=kubeconfig, context=context) as cluster, open_store(store) as opened:
        yield Session(cluster=cluster, store=opened)


def plan(
    app: App,
    config: Config,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    revision: str | None = None,
    progress: Progress = _quiet,
    store: StoreChoice | None = None,
    recheck: bool = False,
) -> tuple[Plan, Rendered]:
    """``app``'s plan as configured (``plumb diff``, ``plumb capture``): in a :func:`session`, against
    the last successful sync, tracked under the config's instance and bounded by the app's Project.
    ``recheck``: every object dry-run, none proved unchanged by the last sync's proofs."""
    choice = store or StoreChoice.of(config.store)
    with session(app, kubeconfig=kubeconfig, context=context, store=choice) as opened:
        return plan_app(
            app,
            cluster=opened.cluster,
            store=opened.store,
            revision=revision,
            progress=progress,
            config=config,
            recheck=recheck,
        )
