"""The app's signed-commit requirements, checked for a checkout as a sync's environment guard checks
them (``plumb diff`` shows it, good signatures and their signers included)."""

from __future__ import annotations

from plumbline.config import App, Config
from plumbline.signatures import Checked, check_required
from plumbline.source import Checkout, mirror_path
from plumbline.store import Store, StoreChoice, open_store


def signatures_of(
    app: App, config: Config, checkout: Checkout, *, store: Store | None = None
) -> list[Checked]:
    """Each of the app's Environment's and Project's ``spec.signatures`` over ``checkout``'s commit
    (strict: since the app's last successful sync in ``store``, default the configuration's); empty
    when neither requires any."""
    environment, project = config.environment(app.spec.environment), config.project(app.spec.project)
    if environment.spec.signatures is None and project.spec.signatures is None:
        return []
    if store is None:
        with open_store(StoreChoice.of(config.store)) as opened:
            return signatures_of(app, config, checkout, store=opened)
    last = store.last_sync(app.name)
    return check_required(
        environment,
        project,
        mirror=mirror_path(checkout.repo),
        sha=checkout.sha,
        since=last.sha if last is not None else None,
    )
