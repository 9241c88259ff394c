"""Overhead of the Python client, measured against a real Tally.

    python bench.py --tally-bin ../../target/release/tally

(a) ``client``: events/s one producer thread sustains end to end (record
    until Tally has acknowledged everything), for ``Tally`` and
    ``AsyncTally``, and the raw cost of one ``record_*`` call.
(b) ``middleware``: the latency ``TallyMiddleware`` adds to a FastAPI
    request, median and p99: over HTTP (uvicorn in a child process, one
    request at a time, to an app with and one without the middleware in turn),
    and in process (the ASGI app called directly, so only the middleware's
    own cost is left).

Prints one JSON object of figures. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tally_client import AsyncTally, Tally
from tally_client._recorder import Recorder

MASTER_KEY = "bench-master-key-0123456789abcdef"
INGEST_KEY = "bench-ingest-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def tally(binary: str) -> Iterator[str]:
    """A Tally with a fresh database in a temporary directory; yields its URL."""
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        process = subprocess.Popen(
            [binary, "--bind", f"127.0.0.1:{port}", "--sqlite-metrics-db-path", f"{work}/metrics.db",
             "--metrics-archive-dir", f"{work}/archive", "--assets-dir", f"{work}/dist"],
            env={**os.environ, "MASTER_API_KEY": MASTER_KEY, "INGEST_API_KEY": INGEST_KEY,
                 "RUST_LOG": "warn"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(f"{url}/healthz", process)
            yield url
        finally:
            process.kill()
            process.wait()


def record_one(client: Recorder, i: int) -> None:
    """A typical execution: the fields an orchestrator knows."""
    client.record_execution(
        execution_id=f"bench-{i}",
        language="python",
        status="completed",
        execution_time_ms=182.5,
        api_key_hash="5d41402abc4b2a76b9719d911017c592ae5b2f9f1cd6a1e9c4e1f4d6c1b8a9e0",
        memory_peak_mb=61.2,
        cpu_time_ms=150.0,
        container_source="pool_hit",
        output_size_bytes=5120,
    )


def executions_counted(url: str) -> int:
    answer = httpx.get(f"{url}/api/v1/admin/metrics/summary", headers={"x-api-key": MASTER_KEY}, timeout=60)
    return int(answer.json()["total_executions"])


def bench_record_cost(url: str, repeats: int = 10, n: int = 10_000) -> dict[str, float]:
    """µs per ``record_*`` call with the sender idle: each run fills one batch, sent after the timing.

    The median of ``repeats`` runs of ``n`` calls, each on a fresh client.
    """
    executions, requests = [], []
    for run in range(repeats):
        client = Tally(url, INGEST_KEY, max_queue=n, max_batch=n, flush_interval=3600)
        started = time.perf_counter()
        for i in range(n):
            record_one(client, run * n + i)
        executions.append((time.perf_counter() - started) / n * 1e6)
        client.close(timeout=60)
        client = Tally(url, INGEST_KEY, max_queue=n, max_batch=n, flush_interval=3600)
        started = time.perf_counter()
        for _ in range(n):
            client.record_request(method="GET", endpoint="/items/{id}", status_code=200, duration_ms=3.2)
        requests.append((time.perf_counter() - started) / n * 1e6)
        client.close(timeout=60)
    return {
        "record_execution_us": round(statistics.median(executions), 2),
        "record_request_us": round(statistics.median(requests), 2),
    }


def bench_sync(url: str, n: int) -> dict[str, float]:
    before = executions_counted(url)
    client = Tally(url, INGEST_KEY, max_queue=n)
    started = time.perf_counter()
    for i in range(n):
        record_one(client, i)
    recorded = time.perf_counter() - started
    assert client.flush(timeout=300)
    elapsed = time.perf_counter() - started
    client.close()
    stats = client.stats()
    assert stats.sent == n and stats.dropped == 0, stats
    assert executions_counted(url) - before == n
    return {"events_per_s": round(n / elapsed), "record_us_while_sending": round(recorded / n * 1e6, 2)}


def bench_async(url: str, n: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        client = AsyncTally(url, INGEST_KEY, max_queue=n)
        started = time.perf_counter()
        for i in range(n):
            record_one(client, 10 * n + i)
            if i % 500 == 499:
                await asyncio.sleep(0)  # a producer on a loop yields now and then
        recorded = time.perf_counter() - started
        assert await client.flush(timeout=300)
        elapsed = time.perf_counter() - started
        await client.aclose()
        assert client.stats().sent == n, client.stats()
        return {"events_per_s": round(n / elapsed), "record_us_while_sending": round(recorded / n * 1e6, 2)}

    return asyncio.run(run())


# -- (b) the middleware ---------------------------------------------------------


def make_app(tally_url: str | None) -> Any:
    from fastapi import FastAPI

    from tally_client.asgi import TallyMiddleware

    app = FastAPI()
    if tally_url is not None:
        # Room for every request of a run: in process the loop hardly yields
        # to the sender, and a full queue would measure dropping instead.
        client = AsyncTally(tally_url, INGEST_KEY, max_queue=100_000)
        app.add_middleware(TallyMiddleware, client=client)

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def serve(port: int, tally_url: str | None) -> None:
    import uvicorn

    uvicorn.run(make_app(tally_url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def app_process(tally_url: str | None) -> Iterator[str]:
    port = free_port()
    # Both apps on the same core (the load generator and Tally on the other
    # one), so neither is favoured by where it runs.
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    args = [*pin, sys.executable, __file__, "serve", "--port", str(port)]
    if tally_url:
        args += ["--tally-url", tally_url]
    process = subprocess.Popen(args)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/items/0", process)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def quantiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1], 1),
    }


def bench_middleware_http(tally_url: str, n: int) -> dict[str, Any]:
    """Request latency as a client sees it, without and with the middleware.

    Both apps run at once, each in its own uvicorn process; requests go to
    them in turn (the order swapped every pair), one at a time, so that a
    drift of the machine's speed touches both alike.
    """
    samples: dict[str, list[float]] = {"without": [], "with": []}
    with (
        app_process(None) as plain_url,
        app_process(tally_url) as tallied_url,
        httpx.Client(base_url=plain_url) as plain,
        httpx.Client(base_url=tallied_url) as tallied,
    ):
        apps = [("without", plain), ("with", tallied)]
        for i in range(500):  # warm-up
            for _, http in apps:
                http.get(f"/items/{i}")
        for i in range(n):
            for label, http in apps if i % 2 else apps[::-1]:
                started = time.perf_counter()
                http.get(f"/items/{i}", headers={"x-api-key": "sk-bench"})
                samples[label].append((time.perf_counter() - started) * 1e6)
    without, with_ = quantiles(samples["without"]), quantiles(samples["with"])
    return {
        "requests_each": n,
        "without": without,
        "with": with_,
        "added_median_us": round(with_["median_us"] - without["median_us"], 1),
        "added_p99_us": round(with_["p99_us"] - without["p99_us"], 1),
    }


def bench_middleware_in_process(tally_url: str, n: int) -> dict[str, Any]:
    """The app called as an ASGI callable: no network, so the difference is the middleware alone."""

    async def run() -> dict[str, Any]:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        def scope(i: int) -> dict[str, Any]:
            return {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": f"/items/{i}", "raw_path": f"/items/{i}".encode(),
                "query_string": b"", "root_path": "", "headers": [(b"x-api-key", b"sk-bench")],
                "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            }  # fmt: skip

        results = {}
        for label, target in (("without", None), ("with", tally_url)):
            app = make_app(target)
            times = []
            for i in range(n + 500):
                started = time.perf_counter()
                await app(scope(i), receive, send)
                if i >= 500:
                    times.append((time.perf_counter() - started) * 1e6)
            results[label] = quantiles(times)
        return {
            "requests_each": n,
            **results,
            "added_median_us": round(results["with"]["median_us"] - results["without"]["median_us"], 1),
            "added_p99_us": round(results["with"]["p99_us"] - results["without"]["p99_us"], 1),
        }

    return asyncio.run(run())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "client", "middleware", "serve"])
    parser.add_argument("--tally-bin", default=os.environ.get("TALLY_BIN", "target/release/tally"))
    parser.add_argument("--events", type=int, default=200_000, help="events per client run")
    parser.add_argument("--requests", type=int, default=5_000, help="HTTP requests per app")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tally-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.port, args.tally_url)
        return
    figures: dict[str, Any] = {"tally_bin": args.tally_bin, "python": sys.version.split()[0]}
    runs: list[tuple[str, Callable[[str], Any]]] = []
    if args.mode in ("all", "client"):
        runs += [
            ("record_cost", bench_record_cost),
            ("sync_client", lambda url: bench_sync(url, args.events)),
            ("async_client", lambda url: bench_async(url, args.events)),
        ]
    if args.mode in ("all", "middleware"):
        runs += [
            ("middleware_in_process", lambda url: bench_middleware_in_process(url, 20_000)),
            ("middleware_http", lambda url: bench_middleware_http(url, args.requests)),
        ]
    with tally(str(Path(args.tally_bin).resolve())) as url:
        for name, run in runs:
            figures[name] = run(url)
            print(f"{name}: {json.dumps(figures[name])}", file=sys.stderr)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
