"""ASGI middleware recording every HTTP request of a Starlette or FastAPI app.

>>> tally = AsyncTally("http://127.0.0.1:8080", ingest_key)        # doctest: +SKIP
>>> app = FastAPI()                                                 # doctest: +SKIP
>>> app.add_middleware(TallyMiddleware, client=tally)               # doctest: +SKIP

Each request becomes one Tally request event: the **route template** the
router matched (``/items/{item_id}``, never the raw path, so the number of
endpoints stays bounded), method, status, duration until the last byte of
the response, the SHA-256 of the API key when the configured header carries
one (the raw key never leaves the process), and ``cache_hit`` when the app
marks it, with ``request.state.tally_cache_hit = True`` or a response header
(``x-tally-cache-hit: 1``) that the middleware removes. Recording only
queues: no request waits on Tally, and a failure to record is logged, never
raised into the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from ._async import AsyncTally
from ._recorder import Recorder
from ._sync import Tally
from ._validate import HTTP_METHODS

_MOUNTS: tuple[type, ...]
try:  # Starlette is optional: without it every route is read by its attributes.
    from starlette.routing import Mount

    _MOUNTS = (Mount,)
except ImportError:  # pragma: no cover
    _MOUNTS = ()

logger = logging.getLogger("tally_client")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The ``request.state`` attribute an app sets to mark a cache hit.
CACHE_HIT_STATE = "tally_cache_hit"
_TRUE = frozenset({b"1", b"true", b"yes", b"hit"})


class TallyMiddleware:
    """Records each HTTP request in Tally through ``client`` (an ``AsyncTally`` or a ``Tally``).

    Args:
        app: the ASGI app to wrap.
        client: where the requests are recorded.
        api_key_header: header carrying the caller's API key (a ``Bearer``
            prefix is stripped); ``None`` to record no key.
        cache_hit_header: response header that marks a cache hit; removed
            from the response. ``None`` to look at ``request.state`` only.
        unmatched_endpoint: the endpoint of requests no route matched (404s,
            slash redirects), so raw paths never become endpoints.
        exclude: route templates not to record (health checks, say).
        record_client: also send the client IP and user agent.
        close_client_on_shutdown: flush and close ``client`` at ASGI lifespan shutdown.
    """

    def __init__(
        self,
        app: ASGIApp,
        client: Recorder,
        *,
        api_key_header: str | None = "x-api-key",
        cache_hit_header: str | None = "x-tally-cache-hit",
        unmatched_endpoint: str = "/<unmatched>",
        exclude: Collection[str] = (),
        record_client: bool = False,
        close_client_on_shutdown: bool = True,
    ) -> None:
        self.app = app
        self.client = client
        self._key_header = api_key_header.lower().encode() if api_key_header else None
        self._cache_header = cache_hit_header.lower().encode() if cache_hit_header else None
        self.unmatched_endpoint = unmatched_endpoint
        self.exclude = frozenset(exclude)
        self.record_client = record_client
        self.close_client_on_shutdown = close_client_on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan" and self.close_client_on_shutdown:
            await self.app(scope, receive, self._lifespan_send(send))
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500
        cache_hit: bool | None = None
        finished: float | None = None
        cache_header = self._cache_header

        async def send_recording(message: Message) -> None:
            nonlocal status, cache_hit, finished
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if cache_header is not None:
                    headers = message.get("headers") or []
                    for i, (name, value) in enumerate(headers):
                        if name.lower() == cache_header:
                            cache_hit = value.strip().lower() in _TRUE
                            message = {**message, "headers": [*headers[:i], *headers[i + 1 :]]}
                            break
            elif kind == "http.response.body" and not message.get("more_body", False):
                finished = time.perf_counter()
            await send(message)

        error: str | None = None
        try:
            await self.app(scope, receive, send_recording)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            end = time.perf_counter() if finished is None else finished
            try:
                self._record(scope, root_path, status, (end - start) * 1000.0, cache_hit, error)
            except Exception:
                logger.exception("tally middleware could not record a request")

    def _record(
        self,
        scope: Scope,
        root_path: str,
        status: int,
        duration_ms: float,
        cache_hit: bool | None,
        error: str | None,
    ) -> None:
        method = scope["method"]
        if method not in HTTP_METHODS:
            return
        endpoint = self._endpoint(scope, root_path)
        if endpoint in self.exclude:
            return
        state = scope.get("state")
        if cache_hit is None and state:
            marked = (
                state.get(CACHE_HIT_STATE)
                if isinstance(state, dict)
                else getattr(state, CACHE_HIT_STATE, None)
            )
            if isinstance(marked, bool):
                cache_hit = marked
        api_key = self._api_key(scope) if self._key_header else None
        client_ip = user_agent = None
        if self.record_client:
            client = scope.get("client")
            client_ip = client[0] if client else None
            user_agent = _header(scope, b"user-agent")
        self.client.record_request(
            method=method,
            endpoint=endpoint,
            status_code=status,
            duration_ms=duration_ms,
            api_key=api_key,
            cache_hit=cache_hit,
            client_ip=client_ip or None,
            user_agent=user_agent or None,
            error=error,
        )

    def _endpoint(self, scope: Scope, root_path: str) -> str:
        """The matched route's template, with the prefixes of the mounts it sits in."""
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        # Mounts on the way extend root_path by what they matched.
        prefix: str = scope.get("root_path", "")[len(root_path) :]
        if not isinstance(template, str):
            # FastAPI's router names no route for a mounted app that has no router of its own.
            return prefix + "/{path}" if prefix else self.unmatched_endpoint
        if isinstance(route, _MOUNTS):
            # The last router matched the mount itself: its own part is in the prefix.
            own: str = getattr(route, "path", "")
            prefix = prefix[: -len(own)] if own and prefix.endswith(own) else ""
        return prefix + template

    def _api_key(self, scope: Scope) -> str | None:
        assert self._key_header is not None
        value = _header(scope, self._key_header)
        if not value:
            return None
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        return value or None

    def _lifespan_send(self, send: Send) -> Send:
        """Flushes and closes the client once the app has finished shutting down."""

        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await close_client(self.client)
            await send(message)

        return lifespan_send


async def close_client(client: Recorder) -> None:
    """Closes either client from async code without blocking the loop."""
    if isinstance(client, AsyncTally):
        await client.aclose()
    elif isinstance(client, Tally):
        await asyncio.to_thread(client.close)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
