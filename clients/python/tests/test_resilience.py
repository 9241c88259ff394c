"""Tally restarting, overloaded or refusing: nothing accepted is lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from conftest import INGEST_KEY, TallyServer

from tally_client import AsyncTally, Tally
from tally_client._recorder import Recorder

# Short backoff so an outage of a second costs the tests about a second.
FAST = dict(flush_interval=0.02, backoff_initial=0.05, backoff_max=0.5)


def stream(client: Recorder, n: int, prefix: str, rate: float) -> None:
    """Records ``n`` executions and ``n`` requests at about ``rate`` of each per second."""
    started = time.monotonic()
    for i in range(n):
        client.record_execution(
            execution_id=f"{prefix}-{i}", language="python", status="completed", execution_time_ms=3.0
        )
        client.record_request(method="GET", endpoint="/stream/{i}", status_code=200, duration_ms=1.0)
        ahead = started + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def restart_midway(tally: TallyServer, how: signal.Signals, after: float, down: float) -> None:
    time.sleep(after)
    tally.stop(how)
    time.sleep(down)
    tally.start()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_sync_client_survives_a_restart(tally: TallyServer, how: signal.Signals) -> None:
    n = 3000  # 1.5 s at 2000/s; Tally is down from 0.5 s to about 1.3 s
    restarter = threading.Thread(target=restart_midway, args=(tally, how, 0.5, 0.8))
    with Tally(tally.url, INGEST_KEY, max_batch=200, **FAST) as client:
        restarter.start()
        stream(client, n, f"sync-{how.name}", rate=2000)
        restarter.join()
        assert client.flush(timeout=30), client.stats()
        stats = client.stats()
    assert tally.starts == 2
    assert stats.retries > 0, "the stream never saw Tally down"
    assert (stats.sent, stats.rejected, stats.dropped) == (2 * n, 0, 0)
    executions, requests, _ = tally.counts()
    assert (executions, requests) == (n, n)


def test_async_client_survives_a_kill(tally: TallyServer) -> None:
    n = 3000

    async def main() -> None:
        async with AsyncTally(tally.url, INGEST_KEY, max_batch=200, **FAST) as client:
            restart = asyncio.create_task(asyncio.to_thread(restart_midway, tally, signal.SIGKILL, 0.5, 0.8))
            started = time.monotonic()
            for i in range(n):
                client.record_execution(
                    execution_id=f"async-{i}", language="go", status="failed", execution_time_ms=2.0
                )
                client.record_request(method="POST", endpoint="/stream", status_code=500, duration_ms=2.0)
                ahead = started + i / 2000 - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await restart
            assert await client.flush(timeout=30), client.stats()
            stats = client.stats()
        assert stats.retries > 0
        assert (stats.sent, stats.rejected, stats.dropped) == (2 * n, 0, 0)

    asyncio.run(main())
    executions, requests, _ = tally.counts()
    assert (executions, requests) == (n, n)


def test_buffer_full_503_is_retried_until_everything_lands(
    start_tally: Callable[..., TallyServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Four producers, a buffer of 64 events: Tally answers 503 + Retry-After, the clients wait and resend."""
    tally = start_tally("--metrics-buffer-size", "64")
    caplog.set_level(logging.INFO, logger="tally_client")
    clients = [Tally(tally.url, INGEST_KEY, max_batch=64, **FAST) for _ in range(4)]
    n = 1500

    def produce(client: Tally, prefix: str) -> None:
        for i in range(n):
            client.record_execution(
                execution_id=f"{prefix}-{i}", language="rust", status="completed", execution_time_ms=1.0
            )

    threads = [threading.Thread(target=produce, args=(c, f"p{k}")) for k, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        assert client.flush(timeout=60), client.stats()
        client.close()
    stats = [c.stats() for c in clients]
    assert sum(s.retries for s in stats) > 0
    assert any("(503)" in r.getMessage() for r in caplog.records), "no 503 seen"
    assert sum(s.sent for s in stats) == 4 * n
    assert sum(s.dropped + s.rejected for s in stats) == 0
    assert tally.counts()[0] == 4 * n


def test_full_queue_drops_the_oldest_and_counts_them(start_tally: Callable[..., TallyServer]) -> None:
    """Tally down: one batch waits in flight, the queue keeps the newest ``max_queue``."""
    tally = start_tally()
    tally.stop(signal.SIGKILL)
    client = Tally(tally.url, INGEST_KEY, max_queue=100, max_batch=10, flush_interval=5, backoff_max=0.2)

    def record(i: int) -> None:
        client.record_execution(
            execution_id=f"q-{i}",
            language="old" if i < 50 else "new",
            status="completed",
            execution_time_ms=1,
        )

    # Events 0-49 are "old", 50-149 "new". The first batch (0-9) goes in
    # flight and is retried; the queue then keeps the newest 100 of the
    # other 140, so 10-49 are the ones dropped.
    for i in range(10):
        record(i)
    deadline = time.monotonic() + 10
    while client.stats().retries == 0:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    for i in range(10, 150):
        record(i)
    stats = client.stats()
    assert (stats.dropped, stats.queued, stats.sent) == (40, 110, 0)
    tally.start()
    assert client.flush(timeout=30), client.stats()
    client.close()
    assert (client.stats().sent, client.stats().dropped) == (110, 40)
    assert tally.admin("languages")["by_language"] == {"old": 10, "new": 100}


def test_an_event_tally_refuses_is_dropped_alone(
    tally: TallyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad event makes Tally refuse its batch (a 400 naming its index): it is dropped, the rest resent."""
    # The client allows older events than this Tally keeps (90 days), so the
    # stale one passes the local check and only Tally refuses it.
    stale = datetime.now(timezone.utc) - timedelta(days=120)
    with Tally(tally.url, INGEST_KEY, retention_days=365, flush_interval=60) as client:
        for i in range(30):
            client.record_execution(
                execution_id=f"r-{i}",
                language="python",
                status="completed",
                execution_time_ms=1,
                created_at=stale if i in (7, 19) else None,
            )
        assert client.flush(timeout=10)
        stats = client.stats()
    assert (stats.sent, stats.rejected, stats.retries) == (28, 2, 0)
    assert sum("refused a executions event" in r.getMessage() for r in caplog.records) == 2
    assert tally.counts()[0] == 28


def test_a_batch_over_tallys_limit_is_split(start_tally: Callable[..., TallyServer]) -> None:
    """413 (more events than ``--max-batch-events``): the client halves the batch until it fits."""
    tally = start_tally("--max-batch-events", "30")
    with Tally(tally.url, INGEST_KEY, max_batch=100, flush_interval=60) as client:
        for _ in range(100):
            client.record_pool_event(kind="miss", language="java", acquire_time_ms=900)
        assert client.flush(timeout=10)
        stats = client.stats()
    assert (stats.sent, stats.rejected, stats.dropped) == (100, 0, 0)
    assert tally.counts()[2] == 100


def test_a_wrong_key_is_rejected_not_retried(tally: TallyServer) -> None:
    with Tally(tally.url, "not-the-key", flush_interval=60) as client:
        client.record_pool_event(kind="hit", language="python")
        assert client.flush(timeout=10)
        stats = client.stats()
    assert (stats.sent, stats.rejected, stats.retries) == (0, 1, 0)
