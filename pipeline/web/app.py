"""The Starlette application: routes, templates and static files, behind the Guard."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..library import Library
from ..timefmt import clock
from .routes import ApiError, error_response, routes
from .security import MAX_BODY, Guard

HERE = Path(__file__).resolve().parent
DEFAULT_LEAD = 1.5  # seconds of context before a hit's word when a hit is opened


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every transcript string is text, never markup
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    return env


def create_app(
    library: Library | str | Path,
    *,
    token: str | None = None,
    lead: float = DEFAULT_LEAD,
    max_body: int = MAX_BODY,
) -> Guard:
    """The ASGI app for `library`; with `token` every request must carry it (see security)."""
    lib = library if isinstance(library, Library) else Library(library)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "not found" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, message)

    async def server_error(request: Request, exc: Exception) -> Response:
        from .security import one_line

        return error_response(request, 500, one_line(exc))

    app = Starlette(
        routes=[*routes(), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )
    app.state.library = lib
    app.state.templates = _templates()
    app.state.lead = max(0.0, float(lead))
    app.state.token_mode = token is not None
    return Guard(app, token=token, max_body=max_body)
