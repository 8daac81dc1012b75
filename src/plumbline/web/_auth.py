"""Who is using the dashboard: a bearer token the cluster accepts (TokenReview), kept as a session.

A person signs in by pasting a token (``kubectl create token NAME``, or their OIDC ID token); it is
checked with a TokenReview and forgotten: the session keeps the identity the API server returned,
never the token. A script sends ``Authorization: Bearer TOKEN`` with each action instead.

Each form that acts carries the session's CSRF token (compared in constant time), the session cookie
is ``HttpOnly; SameSite=Strict``, and a request whose ``Origin`` is another site is refused; the
sign-in form itself is protected by a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from plumbline.cluster import Identity

SESSION_COOKIE = "plumbline_session"
LOGIN_COOKIE = "plumbline_login"
SESSION_TTL_S = 8 * 3600
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    identity: Identity
    csrf: str
    expires: float
    flash: list[str] = field(default_factory=list)


class Sessions:
    """Signed-in users, in memory (a restart signs everyone out), oldest dropped beyond the cap."""

    def __init__(self, ttl_s: float = SESSION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, identity: Identity) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            identity=identity,
            csrf=secrets.token_urlsafe(32),
            expires=time.monotonic() + self.ttl_s,
        )
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires < time.monotonic():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens, neither empty."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())
