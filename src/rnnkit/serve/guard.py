"""Who may talk to the playground: the ASGI `Guard` middleware and the host checks."""

from __future__ import annotations

import ipaddress
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def host_warning(host: str) -> str | None:
    """A warning when `host` is reachable from other machines, else None."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host.lower() == "localhost":
            return None
    return (
        f"warning: binding {host} makes the playground reachable from other machines; "
        "anyone who can reach it can use this computer's CPU. Use --host 127.0.0.1 to keep it local"
    )


def _host_name(value: str) -> str:
    """`[::1]:8000` -> `::1`, `localhost:8000` -> `localhost`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: known Host headers only, bounded bodies, strict security headers.

    The Host check stops DNS-rebinding pages from reading a loopback server; bodies are read
    (up to `max_body` bytes) before the app sees them, so an oversized one is a 413.
    """

    def __init__(self, app: ASGIApp, max_body: int, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse unknown hosts and large bodies; pass the rest on with the security headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = _host_name(headers.get("host", ""))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            names = ", ".join(sorted(self.allowed_hosts))
            await _reply(send, 400, f"unknown Host {host!r}; open the page through {names}")
            return
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _reply(send, 413, f"request bodies are limited to {self.max_body} bytes")
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, replay, send_with_headers)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when the client left or it grew past `max_body` (413 sent)."""
        body = b""
        more = scope["method"] in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _reply(send, 413, f"request bodies are limited to {self.max_body} bytes")
                return None
        return body


async def _reply(send: Send, status: int, error: str) -> None:
    """A JSON `{"error": ...}` response, sent before the app is reached."""
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
