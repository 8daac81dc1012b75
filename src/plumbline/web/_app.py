"""The dashboard: server-rendered pages over :mod:`plumbline.engine`, live by server-sent events.

    dashboard = Dashboard(lambda: load_config(path), read_only=False)
    served = serve(dashboard.asgi(), host="127.0.0.1", port=8080)

Pages: ``/`` (every app), ``/apps/NAME`` (one app's plan field by field, guards, rebuildability,
history, audit). ``/events`` streams changes. Actions (``POST /apps/NAME/sync|pause|resume|capture``)
need a signed-in user the cluster allows (:mod:`plumbline.web._auth`, :mod:`plumbline.cluster.access`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from plumbline import engine
from plumbline.capture import capture_app, commit_capture
from plumbline.cluster import Cluster, Decision, Identity, Permission, allowed, review_token
from plumbline.config import App, Config, Mode
from plumbline.engine.operation import app_namespace
from plumbline.engine.pause import parse_duration, pause
from plumbline.errors import PlumbError
from plumbline.plan import Action, SyncStatus
from plumbline.plan.age import age_in_words
from plumbline.store import AppStateKind, StoreChoice, SyncResult, open_store
from plumbline.sync.run import show
from plumbline.web._auth import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions, same
from plumbline.web._server import BodyLimit, Refused
from plumbline.web._views import ATTRIBUTIONS, AppRow, AppView, app_view, overview

log = logging.getLogger("plumbline.web")
HERE = Path(__file__).parent
ACTIONS = (Permission.SYNC, Permission.PAUSE, Permission.RESUME, Permission.CAPTURE)
REFRESH_S = 10.0


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ago"] = lambda moment: age_in_words(moment) if moment else ""
    env.filters["utc"] = lambda moment: f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    env.filters["short"] = lambda sha: (sha or "-")[:12]
    env.filters["value"] = _value
    env.filters["left"] = _left
    env.filters["diff"] = _diff
    env.globals.update(
        ATTRIBUTIONS=ATTRIBUTIONS,
        Action=Action,
        SyncStatus=SyncStatus,
        AppStateKind=AppStateKind,
        Mode=Mode,
        SyncResult=SyncResult,
    )
    return env


def _value(value: Any) -> str:
    """A field's value as the page shows it (already fingerprinted where secret), cut at 200 chars."""
    text = show(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _diff(diff: str) -> Markup:
    """A unified diff as lines of a ``<pre>``: removed in ``<del>``, added in ``<ins>`` (words and
    shape, not only colour: the ``-``/``+`` stay); built here, not in the template, since a plan of
    thousands of objects makes it the page's hottest loop."""
    out = []
    for line in diff.rstrip("\n").split("\n"):
        text = escape(line)
        tag = "del" if line[:1] == "-" else "ins" if line[:1] == "+" else "span"
        out.append(f"<{tag}>{text}</{tag}>")
    return Markup("".join(out))


def _left(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60}m"
    return f"{minutes}m {int(seconds % 60)}s"


class Dashboard:
    """The dashboard's state: where the config comes from, who is signed in, what was last seen."""

    def __init__(
        self,
        config: Callable[[], Config],
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        read_only: bool = False,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.load_config = config
        self.kubeconfig, self.context = kubeconfig, context
        self.read_only = read_only
        self.refresh_s = refresh_s
        self.sessions = Sessions()
        self.templates = _templates()
        self._rows: tuple[float, list[AppRow]] | None = None
        self._rows_lock = threading.Lock()

    # ---- data ------------------------------------------------------------------------------------

    def config(self) -> Config:
        return self.load_config()

    def rows(self, *, fresh: bool = False) -> list[AppRow]:
        """Every app's overview row, computed at most once per half refresh (shared by all viewers)."""
        with self._rows_lock:
            if not fresh and self._rows and time.monotonic() - self._rows[0] < self.refresh_s / 2:
                return self._rows[1]
            config = self.config()
            with open_store(StoreChoice.of(config.store)) as store:
                rows = overview(config, store, kubeconfig=self.kubeconfig, context=self.context)
            self._rows = (time.monotonic(), rows)
            return rows

    def view(self, name: str) -> AppView:
        config = self.config()
        return app_view(config.app(name), config, kubeconfig=self.kubeconfig, context=self.context)

    # ---- pages -----------------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        session = self.session_of(request)
        flash = list(session.flash) if session else []
        if session:
            session.flash.clear()
        html = self.templates.get_template(template).render(
            read_only=self.read_only,
            user=session.identity.username if session else None,
            csrf=session.csrf if session else "",
            flash=flash,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def fragment(self, template: str, **values: Any) -> str:
        return self.templates.get_template(template).render(**values)

    async def overview_page(self, request: Request) -> Response:
        rows = await run_in_threadpool(self.rows)
        filters = {k: request.query_params.get(k, "") for k in ("q", "status", "mode", "state")}
        return self.page(
            request,
            "overview.html",
            rows=_filtered(rows, filters),
            all=len(rows),
            filters=filters,
            live="/events?" + urllib.parse.urlencode({k: v for k, v in filters.items() if v}),
        )

    async def app_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            view = await run_in_threadpool(self.view, name)
        except PlumbError as error:
            return self.page(request, "message.html", 404, title="No such app", message=str(error))
        session = self.session_of(request)
        return self.page(request, "app.html", view=view, row=view.row, signed_in=session is not None)

    async def events(self, request: Request) -> Response:
        """Server-sent events: the overview's table body (or one app's summary) whenever it changes."""
        name = request.query_params.get("app")
        filters = {k: request.query_params.get(k, "") for k in ("q", "status", "mode", "state")}

        async def stream() -> AsyncIterator[str]:
            yield "retry: 5000\n\n"
            last: Any = None
            while True:
                rows = await run_in_threadpool(self.rows)
                if name:
                    rows = [r for r in rows if r.name == name]
                    html = self.fragment("_summary.html", row=rows[0]) if rows else ""
                    kind = "summary"
                else:
                    rows = _filtered(rows, filters)
                    html = self.fragment("_rows.html", rows=rows)
                    kind = "rows"
                digest = [r.digest() for r in rows]
                if digest != last:
                    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
                    yield f"event: {kind}\n{data}\n\n"
                    last = digest
                else:
                    yield ": still here\n\n"  # keeps proxies from closing an idle stream
                await asyncio.sleep(self.refresh_s)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    # ---- who -------------------------------------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE))

    def auth_cluster(self) -> Cluster:
        """The cluster that checks tokens: the one the dashboard's kubeconfig and context name."""
        return Cluster(kubeconfig=engine.resolve_kubeconfig(self.kubeconfig), context=self.context)

    def review(self, token: str) -> Identity | None:
        with self.auth_cluster() as cluster:
            return review_token(cluster, token)

    async def login_form(self, request: Request) -> Response:
        if self.read_only:
            return self.page(request, "message.html", 403, title="Read-only", message=READ_ONLY)
        nonce = _nonce()
        target = request.query_params.get("next", "/")
        response = self.page(
            request, "login.html", nonce=nonce, error="", next=target if _local(target) else "/"
        )
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=600, path="/")
        return response

    async def login(self, request: Request) -> Response:
        if self.read_only:
            return self.page(request, "message.html", 403, title="Read-only", message=READ_ONLY)
        form = await _form(request)
        if not same(form.get("nonce"), request.cookies.get(LOGIN_COOKIE)) or not _same_origin(request):
            return self.page(request, "message.html", 403, title="Refused", message=CSRF)
        try:
            who = await run_in_threadpool(self.review, form.get("token", ""))
        except PlumbError as error:
            return self.page(request, "message.html", 502, title="Cannot check the token", message=str(error))
        if who is None:
            nonce = _nonce()
            response = self.page(
                request,
                "login.html",
                401,
                nonce=nonce,
                next=form.get("next", "/"),
                error="The cluster did not accept that token.",
            )
            response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=600, path="/")
            return response
        session = self.sessions.start(who)
        log.info("dashboard sign-in: %s", who.username)
        target = form.get("next", "/")
        redirect = RedirectResponse(target if _local(target) else "/", status_code=303)
        redirect.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            path="/",
            max_age=int(self.sessions.ttl_s),
        )
        redirect.delete_cookie(LOGIN_COOKIE, path="/")
        return redirect

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        session = self.session_of(request)
        if session is not None and same(form.get("csrf"), session.csrf):
            self.sessions.end(session.id)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ---- actions ---------------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        name, verb = request.path_params["name"], request.path_params["action"]
        if verb not in {p.value for p in ACTIONS}:
            return self.page(request, "message.html", 404, title="Not found", message=f"no action {verb}")
        permission = Permission(verb)
        if self.read_only:
            return self.page(request, "message.html", 403, title="Read-only", message=READ_ONLY)
        form = await _form(request)
        session = self.session_of(request)
        bearer = request.headers.get("authorization", "")
        who: Identity | None = None
        if session is not None:
            if not same(form.get("csrf"), session.csrf) or not _same_origin(request):
                return self.page(request, "message.html", 403, title="Refused", message=CSRF)
            who = session.identity
        elif bearer.lower().startswith("bearer "):
            try:
                who = await run_in_threadpool(self.review, bearer[7:])
            except PlumbError as error:
                return self.page(
                    request, "message.html", 502, title="Cannot check the token", message=str(error)
                )
        if who is None:
            why = "Actions need a user the cluster knows: sign in with a token."
            return self.page(request, "message.html", 401, title="Sign in first", message=why)
        try:
            config = self.config()
            app = config.app(name)
            work = _validated(permission, form)
        except PlumbError as error:
            return self.page(request, "message.html", 400, title=f"Cannot {verb} {name}", message=str(error))
        decision = await run_in_threadpool(self.allowed, app, who, permission)
        if not decision.allowed:
            log.warning("dashboard: %s refused: %s", verb, decision.reason)
            return self.page(
                request, "message.html", 403, title=f"Not allowed to {verb} {name}", message=decision.reason
            )
        try:
            said = await run_in_threadpool(self.carry_out, app, config, permission, who, work)
        except PlumbError as error:
            said = f"{verb} {name}: {error}"
        log.info("dashboard: %s %s by %s: %s", verb, name, who.username, said)
        with self._rows_lock:
            self._rows = None  # the next look sees the change
        if session is None:
            return Response(said + "\n", media_type="text/plain")
        session.flash.append(said)
        return RedirectResponse(f"/apps/{urllib.parse.quote(name)}", status_code=303)

    def allowed(self, app: App, who: Identity, permission: Permission) -> Decision:
        with engine.connect(app, kubeconfig=self.kubeconfig, context=self.context) as cluster:
            return allowed(cluster, who, permission, app=app.name, namespace=app_namespace(app))

    def carry_out(
        self, app: App, config: Config, permission: Permission, who: Identity, work: dict[str, Any]
    ) -> str:
        """The action, through the same engine calls as the CLI's command, as ``who``."""
        actor = who.username
        if permission is Permission.PAUSE:
            with open_store(StoreChoice.of(config.store)) as store:
                state = pause(store, app.name, reason=work["reason"], duration=work["duration"], actor=actor)
            return f"{app.name}: paused until {state.until:%Y-%m-%d %H:%M:%S} UTC — {work['reason']}"
        choice = StoreChoice.of(config.store)
        with engine.session(app, kubeconfig=self.kubeconfig, context=self.context, store=choice) as session:
            if permission is Permission.SYNC:
                _, _, record = engine.sync_app(
                    app,
                    cluster=session.cluster,
                    store=session.store,
                    config=config,
                    prune=work["prune"],
                    revert_drift=work["revert_drift"],
                    cause="plumb ui",
                    writer=replace(engine.Writer.for_one_sync(), actor=actor),
                )
                return f"{app.name}: sync {record.result.value}: {record.message} (history #{record.id})"
            if permission is Permission.RESUME:
                done = engine.resume(
                    app,
                    cluster=session.cluster,
                    store=session.store,
                    config=config,
                    actor=actor,
                    reason=work["reason"],
                )
                if not done.was_paused:
                    return f"{app.name}: not paused"
                return f"{app.name}: {done.state.value}" + (
                    " — drift made during the pause waits to be captured or reverted" if done.drift else ""
                )
            plan, rendered = engine.plan_app(app, cluster=session.cluster, store=session.store, config=config)
        capture = capture_app(
            app,
            plan=plan,
            checkout_root=rendered.checkout.root,
            manifests=rendered.manifests,
            allow_remote=engine.allowed_remote(config.project(app.spec.project)),
        )
        if capture.empty:
            return f"{app.name}: nothing to capture"
        commit = commit_capture(
            app,
            capture,
            base_sha=rendered.checkout.sha,
            branch=work["branch"] or None,
            author=f"{actor} <{actor}@localhost>",  # a ServiceAccount or OIDC name, not an address
        )
        left = f"; {len(capture.unmapped)} field(s) not captured" if capture.unmapped else ""
        what = f"captured {len(capture.captured)} field(s) on branch {commit.branch} ({commit.sha[:12]})"
        return f"{app.name}: {what}{left}"

    # ---- the app ---------------------------------------------------------------------------------

    def asgi(self, *, extra: Sequence[BaseRoute] = (), refused: Refused | None = None) -> ASGIApp:
        """The ASGI app: these pages, ``extra`` routes (the controller's endpoints) and the body limit."""
        routes: list[BaseRoute] = [
            Route("/", self.overview_page),
            Route("/apps/{name}", self.app_page),
            Route("/apps/{name}/{action}", self.act, methods=["POST"]),
            Route("/events", self.events),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            *extra,
        ]
        return Starlette(routes=routes, middleware=[Middleware(BodyLimit, refused=refused)])


READ_ONLY = "This dashboard is read-only (started with --read-only): it shows, it does not act."
CSRF = "The form was stale or came from another site. Reload the page and try again."
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _nonce() -> str:
    return secrets.token_urlsafe(24)


def _local(target: str | None) -> bool:
    return bool(target) and str(target).startswith("/") and not str(target).startswith("//")


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (not a browser's cross-site form), or this server's own."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")


async def _form(request: Request) -> dict[str, str]:
    """A url-encoded form (the body is bounded by the server); the last value of each field."""
    body = await request.body()
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}


def _validated(permission: Permission, form: dict[str, str]) -> dict[str, Any]:
    """The action's inputs, checked before anything is asked of the cluster or changed."""
    reason = form.get("reason", "").strip()
    if permission is Permission.PAUSE:
        if not reason:
            raise PlumbError("a pause needs a reason: say why, for whoever reads the audit later")
        expiry = form.get("expiry", "").strip()
        if not expiry:
            raise PlumbError("a pause needs an expiry (30m, 2h, 1d): a pause is not a way of life")
        return {"reason": reason, "duration": parse_duration(expiry)}
    if permission is Permission.SYNC:
        return {"prune": form.get("prune") == "on", "revert_drift": form.get("revert_drift") == "on"}
    if permission is Permission.CAPTURE:
        branch = form.get("branch", "").strip()
        if branch and (branch.startswith("-") or " " in branch or ".." in branch):
            raise PlumbError(f"branch {branch!r}: not a branch name")
        return {"branch": branch}
    return {"reason": reason}


def _filtered(rows: list[AppRow], filters: dict[str, str]) -> list[AppRow]:
    q = filters["q"].strip().lower()
    return [
        r
        for r in rows
        if (not q or q in r.name.lower())
        and (not filters["status"] or r.status.status.value == filters["status"])
        and (not filters["mode"] or r.mode.mode.value == filters["mode"])
        and (not filters["state"] or r.state.state.value == filters["state"])
    ]
