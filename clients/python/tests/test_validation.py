"""Bad events are refused at record time with an error naming the field (no server needed)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tally_client import InvalidEventError, Tally, hash_api_key
from tally_client._core import Core
from tally_client._types import Settings, retry_after_seconds


@pytest.fixture
def client() -> Iterator[Tally]:
    # Nothing listens there: these tests only record, and close drops the rest at once.
    tally = Tally("http://127.0.0.1:9", "key", close_timeout=0, flush_interval=60)
    yield tally
    tally.close()


EXECUTION: dict[str, Any] = dict(
    execution_id="e1", language="python", status="completed", execution_time_ms=1.0
)
REQUEST: dict[str, Any] = dict(method="GET", endpoint="/items/{id}", status_code=200, duration_ms=1.0)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (dict(status="done"), "status"),
        (dict(execution_id=""), "execution_id"),
        (dict(execution_id="has space"), "execution_id"),
        (dict(execution_id="x" * 129), "execution_id"),
        (dict(language="py thon"), "language"),
        (dict(execution_time_ms=-1), "execution_time_ms"),
        (dict(execution_time_ms=math.nan), "execution_time_ms"),
        (dict(execution_time_ms="12"), "execution_time_ms"),
        (dict(execution_time_ms=86_400_001), "execution_time_ms"),
        (dict(container_source="warm"), "container_source"),
        (dict(files_uploaded=1.5), "files_uploaded"),
        (dict(files_uploaded=True), "files_uploaded"),
        (dict(repl_mode=1), "repl_mode"),
        (dict(session_id="a\nb"), "session_id"),
        (dict(api_key="k", api_key_hash="0" * 64), "api_key"),
        (dict(api_key_hash="abc"), "api_key_hash"),
        (dict(tenant_id="acme"), "tenant_id"),  # a tenant needs a key
        (dict(api_key="k", tenant_id="a b"), "tenant_id"),
        (dict(created_at=datetime(2026, 1, 1)), "created_at"),  # naive
        (dict(created_at=datetime.now(timezone.utc) - timedelta(days=100)), "created_at"),
        (dict(created_at=datetime.now(timezone.utc) + timedelta(hours=1)), "created_at"),
        (dict(created_at="yesterday"), "created_at"),
    ],
)
def test_bad_executions_name_the_field(client: Tally, override: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEventError) as error:
        client.record_execution(**{**EXECUTION, **override})
    assert error.value.field == field
    assert str(error.value).startswith(f"field `{field}`: ")
    assert client.stats().queued == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (dict(method="FETCH"), "method"),
        (dict(endpoint="items"), "endpoint"),
        (dict(endpoint="/" + "x" * 256), "endpoint"),
        (dict(status_code=99), "status_code"),
        (dict(status_code="200"), "status_code"),
        (dict(duration_ms=-0.5), "duration_ms"),
        (dict(cache_hit="yes"), "cache_hit"),
        (dict(id="a b"), "id"),
        (dict(ts=math.inf), "ts"),
    ],
)
def test_bad_requests_name_the_field(client: Tally, override: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEventError) as error:
        client.record_request(**{**REQUEST, **override})
    assert error.value.field == field


def test_bad_pool_events_name_the_field(client: Tally) -> None:
    with pytest.raises(InvalidEventError, match="must be one of exhausted, hit, miss") as error:
        client.record_pool_event(kind="cold", language="python")
    assert error.value.field == "kind"


def test_a_missing_required_field_is_a_type_error(client: Tally) -> None:
    with pytest.raises(TypeError, match="execution_time_ms"):
        client.record_execution(execution_id="e", language="python", status="completed")  # type: ignore[call-arg]


def test_events_are_stamped_once_at_record_time(client: Tally) -> None:
    """Id and time are fixed in the queued event, so every retry sends the same ones."""
    client.record_request(**REQUEST, api_key="sk-secret")
    queued = list(client._core._queue)
    ((kind, event),) = queued
    assert kind == "requests"
    assert isinstance(event["id"], str) and isinstance(event["ts"], float)
    # The raw key never goes on the wire: only its digest.
    assert "api_key" not in event and event["api_key_hash"] == hash_api_key("sk-secret")


def test_ids_are_unique_across_clients(client: Tally) -> None:
    other = Tally("http://127.0.0.1:9", "key", close_timeout=0)
    ids = {client.new_id() for _ in range(1000)} | {other.new_id() for _ in range(1000)}
    other.close()
    assert len(ids) == 2000


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Tally("http://127.0.0.1:9", "key", max_batch=20_000)
    with pytest.raises(ValueError, match="max_queue"):
        Tally("http://127.0.0.1:9", "key", max_queue=10, max_batch=100)
    with pytest.raises(ValueError, match="ingest_key"):
        Tally("http://127.0.0.1:9", "")


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    lock = threading.RLock()
    core = Core(Settings(backoff_initial=0.1, backoff_max=2.0), lock, lambda: None, lambda: None)
    for attempt in range(12):
        ceiling = min(2.0, 0.1 * 2**attempt)
        delays = [core._backoff(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole range, not fixed
    # A Retry-After is a floor with the jitter on top (as the Rust client does) ...
    assert all(1.5 <= core._backoff(0, 1.5) <= 1.6 for _ in range(100))
    # ... obeyed up to ten minutes.
    assert all(600.0 <= core._backoff(0, 3600) <= 600.1 for _ in range(100))


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
