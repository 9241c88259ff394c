"""Both clients against a real Tally: every event counted exactly once."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import datetime, timedelta, timezone

from conftest import INGEST_KEY, TallyServer

from tally_client import AsyncTally, Tally, hash_api_key
from tally_client._recorder import Recorder


def record_mix(client: Recorder, n: int, prefix: str) -> None:
    """``n`` executions, ``n`` requests and ``n`` pool events."""
    for i in range(n):
        client.record_execution(
            execution_id=f"{prefix}-{i}",
            language=("python", "go", "rust")[i % 3],
            status=("completed", "completed", "failed", "timeout")[i % 4],
            execution_time_ms=10.0 + i % 50,
            api_key=f"sk-{prefix}-{i % 4}",
            memory_peak_mb=32.5,
            container_source="pool_hit" if i % 5 else "pool_miss",
            files_generated=i % 3,
        )
        client.record_request(
            method="POST" if i % 2 else "get",
            endpoint="/api/v1/exec/{id}",
            status_code=(200, 201, 404, 500)[i % 4],
            duration_ms=1.5 + i % 7,
            api_key=f"sk-{prefix}-{i % 4}",
            cache_hit=i % 3 == 0,
        )
        client.record_pool_event(
            kind=("hit", "miss", "exhausted")[i % 3], language="python", acquire_time_ms=i % 900
        )


def test_sync_client_counts_each_event_once(tally: TallyServer) -> None:
    with Tally(tally.url, INGEST_KEY, max_batch=400, flush_interval=0.05) as client:
        record_mix(client, 1500, "sync")
        assert client.flush(timeout=30)
        stats = client.stats()
    assert (stats.sent, stats.duplicates, stats.rejected, stats.dropped, stats.queued) == (4500, 0, 0, 0, 0)
    assert tally.counts() == (1500, 1500, 1500)
    keys = {k["key_hash"]: k["usage_count"] for k in tally.admin("api-keys")}
    assert keys == {hash_api_key(f"sk-sync-{j}")[:16]: 375 for j in range(4)}


def test_sync_client_from_many_threads(tally: TallyServer) -> None:
    with Tally(tally.url, INGEST_KEY, max_batch=250, flush_interval=0.05) as client:
        threads = [threading.Thread(target=record_mix, args=(client, 300, f"t{t}")) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Leaving the block flushed and closed the client.
    assert client.stats().sent == 3600
    assert tally.counts() == (1200, 1200, 1200)


def test_async_client_counts_each_event_once(tally: TallyServer) -> None:
    async def main() -> None:
        async with AsyncTally(tally.url, INGEST_KEY, max_batch=400, flush_interval=0.05) as client:
            for chunk in range(3):
                record_mix(client, 500, f"async{chunk}")
                await asyncio.sleep(0)  # the sender runs between chunks
            assert await client.flush(timeout=30)
            stats = client.stats()
        assert (stats.sent, stats.rejected, stats.dropped, stats.queued) == (4500, 0, 0, 0)

    asyncio.run(main())
    assert tally.counts() == (1500, 1500, 1500)


def test_async_client_records_from_other_threads(tally: TallyServer) -> None:
    async def main() -> None:
        client = AsyncTally(tally.url, INGEST_KEY, flush_interval=0.05)
        # The first event, on the loop, starts the sender; threads only queue and wake it.
        client.record_pool_event(kind="hit", language="python")
        await asyncio.gather(*(asyncio.to_thread(record_mix, client, 200, f"at{t}") for t in range(3)))
        await client.aclose()
        assert client.stats().sent == 1801

    asyncio.run(main())
    assert tally.counts() == (600, 600, 601)


def test_the_same_event_recorded_twice_counts_once(tally: TallyServer) -> None:
    """An execution is its id and timestamp: sent again (as a retry would), Tally counts it once."""
    when = datetime.now(timezone.utc) - timedelta(minutes=5)
    with Tally(tally.url, INGEST_KEY, flush_interval=0.05) as client:
        for _ in range(2):
            client.record_execution(
                execution_id="exec-twice",
                language="python",
                status="completed",
                execution_time_ms=5,
                created_at=when,
            )
            client.record_request(
                id="req-twice",
                ts=when.isoformat(),
                method="GET",
                endpoint="/x",
                status_code=200,
                duration_ms=1,
            )
            assert client.flush(timeout=10)
        stats = client.stats()
    assert (stats.sent, stats.duplicates) == (4, 2)
    assert tally.counts() == (1, 1, 0)


def test_closing_sends_what_is_queued(tally: TallyServer) -> None:
    """``close`` without ``flush``: the partial batch waiting for its interval goes out."""
    client = Tally(tally.url, INGEST_KEY, flush_interval=60)
    record_mix(client, 10, "close")
    client.close()
    assert client.stats().sent == 30
    assert tally.counts() == (10, 10, 10)
    # Recording after close is counted as dropped, not raised into the caller.
    client.record_pool_event(kind="hit", language="python")
    assert client.stats().dropped == 1


def test_batches_by_size_and_by_time(tally: TallyServer) -> None:
    with Tally(tally.url, INGEST_KEY, max_batch=100, flush_interval=1.0) as client:
        started = time.monotonic()
        for i in range(250):
            client.record_pool_event(kind="hit", language="python", id=f"p{i}")
        # Two full batches go out at once; the 50 left wait for the interval.
        while client.stats().sent < 200:
            assert time.monotonic() - started < 0.9, client.stats()
            time.sleep(0.01)
        time.sleep(0.2)
        assert client.stats().sent == 200
        while client.stats().sent < 250:
            assert time.monotonic() - started < 5, client.stats()
            time.sleep(0.01)
        assert time.monotonic() - started >= 1.0


def test_a_forked_child_sends_its_own_events_with_ids_of_its_own(tally: TallyServer) -> None:
    """A pre-forking server forks after creating the client: the child's
    events must not reuse the parent's ids (Tally would count them as
    duplicates) nor wait on the parent's sender thread, which did not survive."""

    def requests(client: Tally, n: int) -> None:
        for _ in range(n):
            client.record_request(method="GET", endpoint="/items/{id}", status_code=200, duration_ms=2.0)

    with Tally(tally.url, INGEST_KEY, flush_interval=0.05) as client:
        requests(client, 50)
        assert client.flush(timeout=30)
        pid = os.fork()
        if pid == 0:  # the child: report success through the exit status only
            ok = False
            try:
                requests(client, 120)
                ok = client.flush(timeout=30) and client.stats().sent == 120 and client.stats().duplicates == 0
                client.close()
            finally:
                os._exit(0 if ok else 1)
        requests(client, 30)
        assert client.flush(timeout=30)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child did not deliver its 120 requests once"
        assert client.stats().sent == 80
    assert tally.counts()[1] == 200
