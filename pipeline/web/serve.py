"""Run the web page: bind first (a busy port is one clear line), then hand the socket to uvicorn."""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import Callable

from ..library import Library
from .app import DEFAULT_LEAD, create_app
from .security import is_local, new_token

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServeError(Exception):
    """A one-line reason the server cannot start."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(
    library: Library,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    open_browser: bool = False,
    lead: float = DEFAULT_LEAD,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve until Ctrl-C. Any host but this machine's loopback needs a token (made up if not given)."""
    import uvicorn

    if not is_local(host) and not token:
        token = new_token()
    sock = bind(host, port)
    port = sock.getsockname()[1]
    app = create_app(library, token=token, lead=lead)
    url = url_for(host, port, token)
    echo(f"serving {library.root} at {url}  (Ctrl-C to stop)")
    if token:
        echo(f"access token: {token}  (scripts: Authorization: Bearer TOKEN)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
