"""The values the sender's parts exchange: settings, counters, and the
operations a delivery asks its driver to perform.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

Kind = Literal["executions", "requests", "pool"]
PATHS: dict[str, str] = {
    "executions": "/api/v1/events/executions",
    "requests": "/api/v1/events/requests",
    "pool": "/api/v1/events/pool",
}
#: Tally's default ``--max-batch-events``; a larger batch would get 413.
MAX_BATCH_EVENTS = 10_000
#: Seconds closing waits, past its timeout, for a request in flight.
GRACE = 0.25
#: The longest ``Retry-After`` obeyed, in seconds: a longer one is taken as this.
MAX_RETRY_AFTER = 600.0
#: Statuses worth another try besides 5xx and no answer at all.
RETRYABLE = frozenset({408, 425, 429})

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Settings:
    """How a client queues, batches and retries."""

    #: Events waiting at most; beyond it the oldest is dropped. One batch in
    #: flight (at most ``max_batch``) comes on top.
    max_queue: int = 10_000
    #: Events per batch at most (one POST per kind per batch).
    max_batch: int = 500
    #: Longest wait, in seconds, before a partial batch is sent.
    flush_interval: float = 1.0
    #: Timeout of one HTTP request, in seconds.
    timeout: float = 10.0
    #: Backoff before the first retry at most, doubled per retry (full jitter).
    backoff_initial: float = 0.1
    #: Longest backoff (a ``Retry-After`` from Tally comes on top of it).
    backoff_max: float = 30.0
    #: How long closing waits for unsent events by default, in seconds.
    close_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_BATCH_EVENTS:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH_EVENTS}")
        if self.max_queue < self.max_batch:
            raise ValueError("max_queue must be at least max_batch")
        for name in ("flush_interval", "timeout", "backoff_initial", "backoff_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if not self.close_timeout >= 0:
            raise ValueError("close_timeout must be >= 0")


@dataclass(frozen=True, slots=True)
class Stats:
    """What became of the events recorded so far."""

    #: Acknowledged by Tally (stored now, or already stored: see ``duplicates``).
    sent: int
    #: Of ``sent``, those Tally already had: a retry after a lost answer.
    duplicates: int
    #: Refused by Tally (a 4xx other than 408/429); not retried.
    rejected: int
    #: Never delivered: the oldest when the queue was full, or unsent at close.
    dropped: int
    #: Requests sent again after a 5xx, 408, 429 or a connection error.
    retries: int
    #: Waiting now, in the queue or in flight.
    queued: int


@dataclass(frozen=True, slots=True)
class Post:
    """Send ``body`` (a JSON array of ``events`` events) to ``path``."""

    path: str
    body: bytes
    events: int


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` before the next try (cut short when the client gives up)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Reply:
    """What a ``Post`` got: a status, or ``None`` and the transport error."""

    status: int | None
    body: bytes = b""
    retry_after: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        return cls(response.status_code, response.content, response.headers.get("retry-after"))

    @classmethod
    def failed(cls, error: Exception) -> Reply:
        return cls(None, error=f"{type(error).__name__}: {error}")


Operation = Post | Pause
Delivery = Generator[Operation, "Reply | None", None]


@dataclass(slots=True)
class Batch:
    """Events taken from the queue together: numbered ``first`` onwards, by kind."""

    first: int
    by_kind: dict[str, list[Event]]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delta seconds or an HTTP date; ``None`` if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
