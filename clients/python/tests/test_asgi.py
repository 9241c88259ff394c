"""The ASGI middleware in a FastAPI app served by uvicorn, driven by real HTTP requests."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from conftest import INGEST_KEY, TallyServer, free_port
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tally_client import AsyncTally, Tally, hash_api_key
from tally_client._recorder import Recorder
from tally_client.asgi import TallyMiddleware


def make_app(client: Recorder) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TallyMiddleware, client=client)

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/items", status_code=201)
    async def create_item() -> dict[str, str]:
        return {}

    @app.get("/cached/{key}")
    async def cached(key: str, request: Request) -> dict[str, str]:
        request.state.tally_cache_hit = True
        return {"key": key}

    @app.get("/header-cached")
    def header_cached(response: Response) -> dict[str, str]:  # a sync endpoint, run on a thread
        response.headers["x-tally-cache-hit"] = "1"
        return {}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    users = APIRouter(prefix="/v1")

    @users.get("/users/{user_id}")
    async def get_user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    app.include_router(users)

    async def thing(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.path_params["thing_id"]))

    app.mount("/sub", Starlette(routes=[Route("/things/{thing_id:int}", thing)]))

    async def files(scope: dict, receive: object, send: object) -> None:  # a bare ASGI app
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"file"})  # type: ignore[operator]

    app.mount("/static", files)
    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Runs ``app`` with uvicorn on a loopback port; leaving stops it (lifespan shutdown included)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


# (method, path, template, times, API key)
TRAFFIC = [
    ("GET", "/items/{}", "/items/{item_id}", 20, "sk-plain"),
    ("POST", "/items", "/items", 5, "sk-plain"),
    ("GET", "/cached/k{}", "/cached/{key}", 4, "sk-cache"),
    ("GET", "/header-cached", "/header-cached", 3, "sk-cache"),
    ("GET", "/boom", "/boom", 2, None),
    ("GET", "/v1/users/u{}", "/v1/users/{user_id}", 6, None),
    ("GET", "/sub/things/{}", "/sub/things/{thing_id}", 3, None),
    ("GET", "/static/css/{}.css", "/static/{path}", 2, None),
    ("GET", "/no/such/{}", "/<unmatched>", 3, None),
]


@pytest.mark.parametrize("client_class", [AsyncTally, Tally])
def test_requests_are_recorded_by_route_template(tally: TallyServer, client_class: type[Recorder]) -> None:
    client = client_class(tally.url, INGEST_KEY, flush_interval=0.05)
    statuses: Counter[int] = Counter()
    with serve(make_app(client)) as base, httpx.Client(base_url=base) as http:
        for method, path, template, times, key in TRAFFIC:
            for i in range(times):
                headers = {"x-api-key": key} if key else {}
                if template == "/boom":
                    # uvicorn closes the connection after an exception: don't reuse it.
                    headers["connection"] = "close"
                response = http.request(method, path.format(i), headers=headers)
                statuses[response.status_code] += 1
                assert "x-tally-cache-hit" not in response.headers
    # uvicorn's lifespan shutdown made the middleware flush and close the client.
    total = sum(t[3] for t in TRAFFIC)
    assert client.stats().sent == total
    assert statuses == {200: 38, 201: 5, 500: 2, 404: 3}

    view = tally.admin("requests")
    assert view["total_requests"] == total
    seen = {(e["endpoint"], e["method"]): e["requests"] for e in view["endpoints"]}
    assert seen == {(template, method): times for method, _, template, times, _ in TRAFFIC}
    errors = {e["endpoint"]: (e["errors_4xx"], e["errors_5xx"]) for e in view["endpoints"]}
    assert errors["/boom"] == (0, 2) and errors["/<unmatched>"] == (3, 0)

    # The key's hash was sent (Tally shows keys by the first 16 hex of it).
    cache_key = hash_api_key("sk-cache")[:16]
    cached = tally.admin("requests", api_key_hash=cache_key)
    assert (cached["total_requests"], cached["cache_hit_rate"]) == (7, 100.0)
    plain = tally.admin("requests", api_key_hash=hash_api_key("sk-plain")[:16])
    assert (plain["total_requests"], plain["cache_hit_rate"]) == (25, 0.0)


def test_the_app_never_waits_on_tally() -> None:
    """Tally accepts connections but never answers: requests are served at full speed all the same."""
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        url = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        client = AsyncTally(url, INGEST_KEY, max_batch=5, flush_interval=0.01, timeout=5, close_timeout=0.2)
        with serve(make_app(client)) as base, httpx.Client(base_url=base) as http:
            started = time.monotonic()
            for i in range(40):
                assert http.get(f"/items/{i}").status_code == 200
            elapsed = time.monotonic() - started
        # Each request would take the 5 s timeout if recording waited on Tally.
        assert elapsed < 3, elapsed
        stats = client.stats()
        assert stats.sent == 0 and stats.dropped == 40
