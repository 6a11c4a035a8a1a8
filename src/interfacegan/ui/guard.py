"""What the editor's server lets in: its own Host only, state changes from its own page only, security headers on
every answer, and no exception ever reaching the server (a one-line 500 instead of a broken connection).

The Host rule (against DNS rebinding, where another site's name resolves to 127.0.0.1):
    a Host is accepted when its name is 127.0.0.1, localhost or [::1], a name the server was told (`--host`,
    `allowed_hosts`), or an IP literal that is the very address the connection arrived on (a rebound name is
    never an IP literal); and its port is the port the connection arrived on (the ASGI scope's `server`, so
    port 0 works: the port is the one uvicorn bound). No port means 80. Names given with `allowed_hosts` without a
    port accept any port (a reverse proxy forwards its own Host); with a port, that port only.
The Origin rule (against cross-site requests): a request other than GET/HEAD/OPTIONS is refused when its Origin
is not the Host it was sent to (http or https); without an Origin, when Sec-Fetch-Site is not same-origin (or
none), or its Referer is another origin. Clients that send none of these (scripts, curl) are not browsers
carrying another site's request, and are let in.
Body sizes are bounded by FastAPI's `max_body_size` per route (counted on the receive stream as it is read, so an
absent or false Content-Length changes nothing; see `app.create_app`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Callable, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from interfacegan.errors import InterfaceGANError

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("", "0.0.0.0", "::")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """'name[:port]' -> (lower-case name without IPv6 brackets, port or None); None for anything else."""
    if not value or not _HOST.fullmatch(value):
        return None
    try:
        parts = urlsplit(f"//{value}")
        return (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port above 65535, a malformed IPv6 literal
        return None


def _same_ip(name: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(address)
    except ValueError:
        return False


class HostRule:
    """The Host names the editor answers to: loopback names, `names` (e.g. --host) and the connection's own IP."""

    def __init__(self, names: Iterable[str] = ()):
        self.names = set(LOOPBACK_NAMES)
        self.extra: dict[str, set[int | None]] = {}  # a name given -> its ports (None: any)
        for entry in names:
            entry = entry.strip()
            parsed = split_host(entry) or split_host(f"[{entry}]")  # also a bare IPv6 address such as ::1
            if parsed is None and entry not in WILDCARDS:
                raise InterfaceGANError(f"allowed host {entry[:80]!r} is not a host name or NAME:PORT: give e.g. "
                                        "editor.example or editor.example:8443")  # fmt: skip
            if parsed is None or parsed[0] in WILDCARDS or (parsed[0] in self.names and parsed[1] is None):
                continue  # 0.0.0.0 / :: are no names a browser sends; loopback names keep the port rule
            self.extra.setdefault(parsed[0], set()).add(parsed[1])

    def shown(self, port: int | None) -> str:
        """The addresses accepted, for the refusal."""
        suffix = f":{port}" if port else ""
        names = [f"127.0.0.1{suffix}", f"localhost{suffix}", f"[::1]{suffix}", *self.extra]
        return ", ".join(names)

    def allows(self, host: str | None, server) -> bool:
        parsed = split_host(host)
        if parsed is None:
            return False
        name, port = parsed
        bound = int(server[1]) if server and server[1] is not None else None
        ports = self.extra.get(name)
        if ports is not None and (None in ports or port in ports):
            return True
        if name not in self.names and not (server and _same_ip(name, str(server[0]))):
            return False
        return bound is None or (port or 80) == bound


def same_origin(url: str, host: str) -> bool:
    """Whether `url` (an Origin or Referer) has the origin http(s)://`host`."""
    try:
        parts = urlsplit(url)
        theirs = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return False
    ours = split_host(host)
    if parts.scheme.lower() not in ("http", "https") or ours is None or theirs[0] != ours[0]:
        return False
    default = 443 if parts.scheme.lower() == "https" else 80
    return (theirs[1] or default) == (ours[1] or default)


def cross_site(method: str, headers: Headers, host: str) -> str | None:
    """Why a request comes from another site (one phrase), or None when it may change state."""
    if method in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None:
        return None if same_origin(origin, host) else f"origin {origin[:100]!r}"
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"a {site[:40]!r} request"
    referer = headers.get("referer")
    if referer and not same_origin(referer, host):
        return f"a request from {referer[:100]!r}"
    return None


class EditorGuard:
    """ASGI middleware around the whole editor: Host and Origin checks, security headers, one JSON line for a body
    over its limit (`too_large(path)`; the limits are FastAPI's, which answer in plain text), and a one-line 500
    for any exception (logged), so that no failure reaches uvicorn and every later request is still served."""

    def __init__(self, app, hosts: HostRule | None = None, too_large: Callable[[str], str] | None = None):
        self.app = app
        self.hosts = hosts or HostRule()
        self.too_large = too_large or (lambda path: "the request body is too large")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan; the editor has no websockets
            await self.app(scope, receive, send)
            return
        started = replaced = False

        async def send_secure(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]  # fmt: skip
            await send(message)

        async def send_guarded(message):
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                replaced = True  # whoever refused the body, the page gets the same one line
                await JSONResponse({"detail": self.too_large(scope["path"])}, 413)(scope, receive, send_secure)
            elif not replaced:
                await send_secure(message)

        try:
            refusal = self.refusal(scope)
            if refusal is not None:
                await JSONResponse({"detail": refusal[1]}, status_code=refusal[0])(scope, receive, send_secure)
                return
            await self.app(scope, receive, send_guarded)
        except Exception as exc:  # noqa: BLE001 -- the last line of defence: log it, answer 500, keep serving
            logger.error("%s %s failed", scope.get("method"), scope.get("path"), exc_info=True)
            if not started:
                text = " ".join(str(exc).split())[:200]
                detail = f"the editor failed on this request ({type(exc).__name__}{': ' + text if text else ''})"
                await JSONResponse({"detail": detail}, status_code=500)(scope, receive, send_secure)

    def refusal(self, scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host")
        server = scope.get("server")
        if not self.hosts.allows(host, server):
            port = int(server[1]) if server and server[1] is not None else None
            shown = repr(host[:100]) if host else "no Host"
            return 400, (f"this editor answers only at {self.hosts.shown(port)}, not {shown}: open it at one of "
                         "those addresses (or start it with --allow-host NAME to answer to another name)")  # fmt: skip
        why = cross_site(scope["method"], headers, host)
        if why is not None:
            return 403, f"cross-site request refused ({why}): the editor accepts changes only from its own page"
        return None
