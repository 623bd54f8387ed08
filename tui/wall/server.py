"""The wall display's web server (aiohttp): the page, and a WebSocket that pushes the
rendered board whenever the suite changes (at most `max_rate_hz` times a second).

Read-only by construction: there are two routes, both GET; the WebSocket's incoming messages
are read and dropped (counted); the server has no MQTT command channel. With a token
configured every request must carry it (`?token=`, an `Authorization: Bearer` header, or
the cookie the page sets after a first visit with `?token=`); without it the answer is 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from ipaddress import ip_address

from aiohttp import WSMsgType, web

from tui.wall.feed import WallFeed
from tui.wall.render import PAGE, fragment

log = logging.getLogger(__name__)

COOKIE = "procsuite_wall"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WallConfigError(ValueError):
    """The wall display cannot start as configured (the message says what to change)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Bound beyond this machine, the wall needs a token (WallConfigError otherwise)."""
    if not is_loopback(host) and not token:
        raise WallConfigError(
            f"serving the wall display on {host} (beyond this machine) needs an access token:"
            " set --token or PROCSUITE_WEB_TOKEN"
        )


def _token_of(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :].strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


class Wall:
    def __init__(
        self,
        feed: WallFeed,
        *,
        token: str | None,
        tz: tzinfo | None,
        clock: Callable[[], datetime],
        max_rate_hz: float = 2.0,
    ) -> None:
        self.feed = feed
        self.token = token
        self.tz = tz
        self.clock = clock
        self.min_gap_s = 1.0 / max_rate_hz
        self.refused = 0
        self.ignored_messages = 0
        self.viewers = 0

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None:
            given = _token_of(request) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                self.refused += 1
                log.warning(
                    "web: refused %s %s without a valid token", request.method, request.path
                )
                return web.Response(status=401, text="an access token is needed\n")
        response = await handler(request)
        if self.token is not None and request.query.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._socket)
        return app

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=PAGE, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.viewers += 1
        reader = asyncio.create_task(self._drop_incoming(ws))
        try:
            while not ws.closed:
                await ws.send_str(fragment(self.feed.model, self.clock(), self.tz))
                self.feed.changed.clear()
                await asyncio.sleep(self.min_gap_s)
                with contextlib.suppress(TimeoutError):
                    # Redraw on change, and every few seconds anyway (times move on).
                    async with asyncio.timeout(5.0):
                        await self.feed.changed.wait()
        except ConnectionResetError:
            pass
        finally:
            self.viewers -= 1
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return ws

    async def _drop_incoming(self, ws: web.WebSocketResponse) -> None:
        """Whatever a browser sends is read and dropped: the wall takes no input."""
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self.ignored_messages += 1


async def serve(
    wall: Wall, *, host: str, port: int, on_ready: Callable[[], None] | None = None
) -> None:
    """Run the feed and the web server until cancelled."""
    runner = web.AppRunner(wall.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    feed = asyncio.create_task(wall.feed.run(), name="wall-feed")
    try:
        await site.start()
        log.info("web: wall display on http://%s:%d/", host, port)
        if on_ready is not None:
            on_ready()
        await feed
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await runner.cleanup()
