"""The dashboard (``plumb ui``, ``plumb controller --listen``): server-rendered pages over the same
application layer as the CLI (:mod:`plumbline.engine`), live by server-sent events, actions only for a
user the cluster authenticates and allows; served by uvicorn with fixed bounds on every request.

    served = serve(Dashboard(lambda: load_config(path)).asgi(), host="127.0.0.1", port=0)
    print(served.url); ...; served.shutdown()
"""

from plumbline.web._app import Dashboard
from plumbline.web._server import (
    MAX_BODY,
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT_S,
    BodyLimit,
    Served,
    client_ip,
    parse_listen,
    serve,
)

__all__ = [
    "MAX_BODY",
    "MAX_CONNECTIONS",
    "REQUEST_TIMEOUT_S",
    "BodyLimit",
    "Dashboard",
    "Served",
    "client_ip",
    "parse_listen",
    "serve",
]
