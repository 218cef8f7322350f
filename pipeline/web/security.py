"""Who may talk to the server, and which requests may change anything.

One ASGI middleware, in front of every route (static files included):

- Access token. Bound to 127.0.0.1 the server needs none; bound to any other
  address every request must carry the token: `Authorization: Bearer TOKEN`,
  or `?token=TOKEN` once, which sets an HttpOnly cookie (and, for a page, a
  redirect drops the token from the address bar). Without it: 401.
- DNS rebinding. Without a token, the Host header must name this machine
  (127.0.0.1, localhost, ::1): a page on evil.example that resolves its name
  to 127.0.0.1 is refused, since its requests carry its own host name.
- Cross-site requests. A POST must be JSON (a cross-site form cannot send
  that without a CORS preflight, which is never granted) and, when the
  browser says where it comes from (Origin, else Referer), come from this
  server's own origin.
- Body size. A request body over the limit is refused with 413, before and
  while it is read.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sys
import traceback
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "interview_index_token"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_BODY = 256 * 1024  # a corrected segment or a name; far less in practice
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def report_error(scope: Scope, e: BaseException) -> None:
    """One line on stderr, as the CLI does; the traceback only with INTERVIEW_INDEX_DEBUG=1."""
    print(f"error: {scope.get('method')} {scope.get('path')}: {one_line(e)}", file=sys.stderr, flush=True)
    if os.environ.get("INTERVIEW_INDEX_DEBUG"):
        traceback.print_exception(e)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS or host.startswith("127.")


def _host_name(host_header: str) -> str:
    """'localhost:8765' -> 'localhost'; '[::1]:8765' -> '[::1]'."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


async def _send_json(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The checks above; `token` None means local mode (no token, Host checked)."""

    def __init__(self, app: ASGIApp, token: str | None = None, max_body: int = MAX_BODY):
        self.app = app
        self.token = token
        self.max_body = max_body

    def _token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        set_cookie: list[tuple[bytes, bytes]] = []

        if self.token is None:
            if not is_local(_host_name(host)):
                await _send_json(send, 403, f"host {host!r} is not this machine; open http://127.0.0.1 instead")
                return
        else:
            auth = headers.get("authorization", "")
            bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            cookie = SimpleCookie(headers.get("cookie", ""))
            from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
            from_query = query.get("token")
            if not (self._token_ok(bearer) or self._token_ok(from_cookie) or self._token_ok(from_query)):
                await _send_json(
                    send, 401, "access token required: open the address `serve` printed (it has ?token=...)"
                )
                return
            if self._token_ok(from_query) and not self._token_ok(from_cookie):
                value = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                set_cookie = [(b"set-cookie", value.encode())]
                if scope["method"] == "GET" and not scope["path"].startswith(("/api/", "/media/")):
                    rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode()) if k != "token"])
                    location = scope["path"] + (f"?{rest}" if rest else "")
                    await send({"type": "http.response.start", "status": 303,
                                "headers": [(b"location", location.encode()), (b"content-length", b"0"),
                                            *set_cookie, *SECURITY_HEADERS]})  # fmt: skip
                    await send({"type": "http.response.body", "body": b""})
                    return

        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            problem = self._cross_site(headers, host)
            if problem:
                await _send_json(send, 403, problem)
                return
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await _send_json(send, 413, f"request body over {self.max_body} bytes")
                return

        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            # Bodies are small (a sentence, a name): read it all here, so one over the
            # limit is refused before any route sees it, with or without Content-Length.
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await _send_json(send, 413, f"request body over {self.max_body} bytes", set_cookie)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS + set_cookie
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as e:  # noqa: BLE001 - the server's one error boundary: one line, no traceback
            report_error(scope, e)
            if not started:
                await _send_json(send, 500, one_line(e))

    @staticmethod
    def _cross_site(headers: dict[str, str], host: str) -> str | None:
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            return "changes must be sent as application/json"
        origin = headers.get("origin") or headers.get("referer")
        if origin and urlsplit(origin).netloc != host:
            return "cross-site request refused (its origin is not this server)"
        return None
