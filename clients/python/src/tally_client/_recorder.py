"""The recording API shared by :class:`Tally` and :class:`AsyncTally`.

Each ``record_*`` method checks its fields (raising
:class:`InvalidEventError` naming the field), fixes the event's timestamp
and id, and queues it. It never waits on the network: recording is the same
plain, non-blocking call in the sync and the asyncio client.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import time
import weakref
from typing import Literal

from . import _validate as v
from ._core import Core
from ._types import Event, Settings, Stats

ExecutionStatus = Literal["completed", "failed", "timeout", "error"]
ContainerSource = Literal["pool_hit", "pool_miss"]
PoolKind = Literal["hit", "miss", "exhausted"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"]

DAY = 86_400.0


def hash_api_key(raw: str) -> str:
    """The SHA-256 digest of an API key in hex: how Tally identifies keys."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Recorder:
    """Validates events and hands them to a :class:`Core`; the base of both clients.

    Args:
        url: Tally's base URL, e.g. ``http://127.0.0.1:8080``.
        ingest_key: the ingest key (or the master key), sent in ``x-api-key``.
        max_queue: events waiting at most; when full, the oldest is dropped.
        max_batch: events per POST at most.
        flush_interval: longest wait (s) before a partial batch goes out.
        timeout: timeout (s) of one HTTP request.
        backoff_initial: first retry delay (s) at most; doubled per retry, full jitter.
        backoff_max: longest backoff (s); a ``Retry-After`` (obeyed up to 600 s)
            is a floor the jitter is added to.
        close_timeout: how long (s) closing waits for unsent events by default.
        retention_days, max_clock_skew: Tally's ``METRICS_EXECUTION_RETENTION_DAYS``
            and ``TALLY_MAX_CLOCK_SKEW_SECONDS``: timestamps outside them are
            refused at record time (Tally would refuse the whole batch).
    """

    _core: Core
    _closed: bool

    def __init__(
        self,
        url: str,
        ingest_key: str,
        *,
        max_queue: int = 10_000,
        max_batch: int = 500,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 30.0,
        close_timeout: float = 5.0,
        retention_days: float = 90,
        max_clock_skew: float = 300,
    ) -> None:
        if not isinstance(ingest_key, str) or not ingest_key:
            raise ValueError("ingest_key must be a non-empty string")
        self.url = url.rstrip("/")
        self.settings = Settings(
            max_queue=max_queue,
            max_batch=max_batch,
            flush_interval=flush_interval,
            timeout=timeout,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            close_timeout=close_timeout,
        )
        self._headers = {"x-api-key": ingest_key, "content-type": "application/json"}
        # Tally refuses timestamps outside [now - retention, now + skew]; so
        # does the client, an hour inside the retention so that an event
        # queued for a while still lands.
        self._max_age = retention_days * DAY - 3600
        self._max_ahead = max_clock_skew
        self._new_ids()
        self._open()
        _LIVE.add(self)

    def _new_ids(self) -> None:
        """Ids Tally has never seen: a random prefix per client and process, then a counter."""
        self._id_prefix = secrets.token_hex(8) + "-"
        self._ids = itertools.count()

    def _open(self) -> None:
        """Sets up ``_core`` and the driver that sends what it queues."""
        raise NotImplementedError

    def _forked(self) -> None:
        """Runs in a child process after ``os.fork()``: the child records with
        ids of its own and, unless closed, an empty queue and a sender of
        its own (the parent sends what it had queued)."""
        self._new_ids()
        if not self._closed:
            self._open()

    def stats(self) -> Stats:
        """Counters: sent, duplicates, rejected, dropped, retries, queued."""
        return self._core.stats()

    def new_id(self) -> str:
        """A fresh event id, unique across clients and processes."""
        return f"{self._id_prefix}{next(self._ids):x}"

    def _time(self, field: str, value: v.Timestamp | None) -> float | str:
        now = time.time()
        return v.timestamp(field, value, now, now - self._max_age, now + self._max_ahead)

    @staticmethod
    def _key(event: Event, api_key: str | None, api_key_hash: str | None, tenant_id: str | None) -> None:
        """Adds the event's key as its digest (a raw key never leaves the process) and tenant."""
        if api_key is not None:
            if api_key_hash is not None:
                raise v.InvalidEventError("api_key", "give either `api_key` or `api_key_hash`, not both")
            event["api_key_hash"] = hash_api_key(v.text("api_key", api_key, v.MAX_API_KEY))
        elif api_key_hash is not None:
            event["api_key_hash"] = v.key_digest("api_key_hash", api_key_hash)
        if tenant_id is not None:
            event["tenant_id"] = v.tenant("tenant_id", tenant_id, "api_key_hash" in event)

    def record_execution(
        self,
        *,
        execution_id: str,
        language: str,
        status: ExecutionStatus,
        execution_time_ms: float,
        api_key: str | None = None,
        api_key_hash: str | None = None,
        tenant_id: str | None = None,
        memory_peak_mb: float | None = None,
        cpu_time_ms: float | None = None,
        container_source: ContainerSource | None = None,
        files_uploaded: int | None = None,
        files_generated: int | None = None,
        output_size_bytes: int | None = None,
        state_size_bytes: int | None = None,
        queue_wait_ms: float | None = None,
        repl_mode: bool | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        entity_id: str | None = None,
        created_at: v.Timestamp | None = None,
    ) -> None:
        """Queues one code execution. ``execution_id`` is its idempotency key.

        ``created_at`` defaults to now, taken here: a retry sends the same
        id and time, so Tally counts the execution once.
        """
        event: Event = {
            "execution_id": v.identifier("execution_id", execution_id),
            "language": v.language("language", language),
            "status": v.choice("status", status, v.EXECUTION_STATUSES),
            "execution_time_ms": v.measure("execution_time_ms", execution_time_ms, v.MAX_DURATION_MS),
            "created_at": self._time("created_at", created_at),
        }
        self._key(event, api_key, api_key_hash, tenant_id)
        if memory_peak_mb is not None:
            event["memory_peak_mb"] = v.measure("memory_peak_mb", memory_peak_mb, v.MAX_MEMORY_MB)
        if cpu_time_ms is not None:
            event["cpu_time_ms"] = v.measure("cpu_time_ms", cpu_time_ms, v.MAX_DURATION_MS)
        if container_source is not None:
            event["container_source"] = v.choice("container_source", container_source, v.CONTAINER_SOURCES)
        if files_uploaded is not None:
            event["files_uploaded"] = v.count("files_uploaded", files_uploaded, v.MAX_U32)
        if files_generated is not None:
            event["files_generated"] = v.count("files_generated", files_generated, v.MAX_U32)
        if output_size_bytes is not None:
            event["output_size_bytes"] = v.count("output_size_bytes", output_size_bytes, v.MAX_U64)
        if state_size_bytes is not None:
            event["state_size_bytes"] = v.count("state_size_bytes", state_size_bytes, v.MAX_U64)
        if queue_wait_ms is not None:
            event["queue_wait_ms"] = v.measure("queue_wait_ms", queue_wait_ms, v.MAX_DURATION_MS)
        if repl_mode is not None:
            event["repl_mode"] = v.flag("repl_mode", repl_mode)
        if session_id is not None:
            event["session_id"] = v.text("session_id", session_id, v.MAX_ID)
        if user_id is not None:
            event["user_id"] = v.text("user_id", user_id, v.MAX_ID)
        if entity_id is not None:
            event["entity_id"] = v.text("entity_id", entity_id, v.MAX_ID)
        self._core.submit("executions", event)

    def record_request(
        self,
        *,
        method: HttpMethod | str,
        endpoint: str,
        status_code: int,
        duration_ms: float,
        id: str | None = None,
        ts: v.Timestamp | None = None,
        api_key: str | None = None,
        api_key_hash: str | None = None,
        tenant_id: str | None = None,
        cache_hit: bool | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        error: str | None = None,
    ) -> None:
        """Queues one API request. ``endpoint`` is the route template (``/items/{id}``), not the raw path.

        ``id`` and ``ts`` default to a fresh id and now, fixed here so a
        retry is recognised as the same request.
        """
        event: Event = {
            "id": self.new_id() if id is None else v.identifier("id", id),
            "ts": self._time("ts", ts),
            "method": v.method("method", method),
            "endpoint": v.endpoint("endpoint", endpoint),
            "status_code": v.status_code("status_code", status_code),
            "duration_ms": v.measure("duration_ms", duration_ms, v.MAX_DURATION_MS),
        }
        self._key(event, api_key, api_key_hash, tenant_id)
        if cache_hit is not None:
            event["cache_hit"] = v.flag("cache_hit", cache_hit)
        if client_ip is not None:
            event["client_ip"] = v.text("client_ip", client_ip, v.MAX_CLIENT_IP)
        if user_agent is not None:
            event["user_agent"] = v.text("user_agent", user_agent, v.MAX_USER_AGENT)
        if error is not None:
            event["error"] = v.text("error", error, v.MAX_ERROR)
        self._core.submit("requests", event)

    def record_pool_event(
        self,
        *,
        kind: PoolKind,
        language: str,
        acquire_time_ms: float | None = None,
        id: str | None = None,
        ts: v.Timestamp | None = None,
    ) -> None:
        """Queues one container-pool event.

        ``kind``: a warm container was taken (``hit``), none was warm
        (``miss``), or none could be had at all (``exhausted``).
        """
        event: Event = {
            "id": self.new_id() if id is None else v.identifier("id", id),
            "ts": self._time("ts", ts),
            "kind": v.choice("kind", kind, v.POOL_KINDS),
            "language": v.language("language", language),
        }
        if acquire_time_ms is not None:
            event["acquire_time_ms"] = v.measure("acquire_time_ms", acquire_time_ms, v.MAX_DURATION_MS)
        self._core.submit("pool", event)


#: Clients alive in this process, renewed in a child after ``os.fork()``.
_LIVE: weakref.WeakSet[Recorder] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
