"""The sender's logic, written once for the thread and the asyncio variant.

:class:`Core` does no I/O. It holds the bounded queue and the counters,
decides when a batch is due, and :meth:`Core.deliver` is a generator that
yields :class:`Post` and :class:`Pause` operations and is sent back the
:class:`Reply` of each ``Post``. A driver (``Tally`` runs one on a thread,
``AsyncTally`` on an asyncio task) performs the operations with httpx and
its own way of sleeping; judging replies, splitting, backoff with full
jitter and ``Retry-After``, and what counts as sent, rejected or dropped
live here only.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from ._types import (
    MAX_RETRY_AFTER,
    PATHS,
    RETRYABLE,
    Batch,
    Delivery,
    Event,
    Kind,
    Pause,
    Post,
    Settings,
    Stats,
    retry_after_seconds,
)

logger = logging.getLogger("tally_client")


def _error_of(body: bytes) -> tuple[str, int | None]:
    """Tally's error text and, for a refused event, its index in the batch."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace"), None
    if not isinstance(answer, dict):
        return str(answer)[:200], None
    index = answer.get("index")
    return str(answer.get("error", answer)), index if isinstance(index, int) else None


class Core:
    """Queue, batching, delivery and counters shared by both clients.

    Methods lock :attr:`lock` (re-entrant) themselves; a driver holds it too
    while it waits on a condition built on it. ``wake`` is called (under the
    lock) when the sender has work; ``progress`` when a batch has settled.
    """

    def __init__(
        self,
        settings: Settings,
        lock: threading.RLock,
        wake: Callable[[], None],
        progress: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.lock = lock
        self._wake = wake
        self._progress = progress
        self._queue: deque[tuple[Kind, Event]] = deque()
        self._submitted = 0
        self._oldest_since = 0.0
        self._in_flight: Batch | None = None
        self._flushes = 0
        self._dropping = False
        self._rng = random.Random()
        #: No more events are accepted; the sender drains the queue and stops.
        self.closed = False
        #: Unsent events are given up (counted as dropped); pauses end early.
        self.abandoned = False
        self._sent = self._duplicates = self._rejected = self._dropped = self._retries = 0

    # -- the caller's side ----------------------------------------------------

    def submit(self, kind: Kind, event: Event) -> None:
        """Queues one event, dropping the oldest when full. Never blocks for long."""
        with self.lock:
            if self.closed:
                self._dropped += 1
                logger.warning("tally client is closed: a %s event was dropped", kind)
                return
            queue = self._queue
            if len(queue) >= self.settings.max_queue:
                queue.popleft()
                self._dropped += 1
                if not self._dropping:
                    self._dropping = True
                    logger.warning(
                        "tally client queue is full (%d events): dropping the oldest",
                        self.settings.max_queue,
                    )
            queue.append((kind, event))
            self._submitted += 1
            waiting = len(queue)
            if waiting == 1:
                self._oldest_since = time.monotonic()
                self._wake()
            elif waiting == self.settings.max_batch:
                self._wake()

    def stats(self) -> Stats:
        with self.lock:
            in_flight = self._in_flight
            pending = sum(map(len, in_flight.by_kind.values())) if in_flight else 0
            return Stats(
                sent=self._sent,
                duplicates=self._duplicates,
                rejected=self._rejected,
                dropped=self._dropped,
                retries=self._retries,
                queued=len(self._queue) + pending,
            )

    def begin_flush(self) -> int:
        """Sends partial batches at once until :meth:`end_flush`; returns the target for :meth:`flushed`."""
        with self.lock:
            self._flushes += 1
            self._wake()
            return self._submitted

    def end_flush(self) -> None:
        with self.lock:
            self._flushes -= 1

    def flushed(self, target: int) -> bool:
        """Whether every event numbered below ``target`` is settled (sent, rejected or dropped)."""
        with self.lock:
            if self._in_flight is not None:
                return self._in_flight.first >= target
            return self._submitted - len(self._queue) >= target

    def close(self) -> None:
        """Refuses further events; the sender drains the queue, then stops."""
        with self.lock:
            self.closed = True
            self._wake()

    def abandon(self) -> int:
        """Gives up on every unsent event (counted as dropped); returns how many were queued."""
        with self.lock:
            self.closed = self.abandoned = True
            dropped = len(self._queue)
            self._queue.clear()
            self._dropped += dropped
            self._wake()
            return dropped

    # -- the sender's side ----------------------------------------------------

    def next_batch_in(self, now: float) -> float | None:
        """Seconds until a batch is due: 0 now, ``None`` while the queue is empty."""
        with self.lock:
            if not self._queue:
                return None
            if self.closed or self._flushes or len(self._queue) >= self.settings.max_batch:
                return 0.0
            return max(0.0, self._oldest_since + self.settings.flush_interval - now)

    @property
    def done(self) -> bool:
        """Closed and nothing left to send: the sender may stop."""
        with self.lock:
            return self.closed and not self._queue

    def take(self) -> Batch:
        """Takes the next batch (the oldest events, at most ``max_batch``) off the queue."""
        with self.lock:
            queue = self._queue
            batch = Batch(self._submitted - len(queue), {})
            for _ in range(min(len(queue), self.settings.max_batch)):
                kind, event = queue.popleft()
                batch.by_kind.setdefault(kind, []).append(event)
            if not queue:
                self._dropping = False
            self._in_flight = batch
            return batch

    def settle(self, batch: Batch) -> None:
        """Marks the batch in flight as done and tells waiting flushes."""
        with self.lock:
            if self._in_flight is batch:
                self._in_flight = None
            self._progress()

    def lose(self, batch: Batch) -> None:
        """Counts what is left of an interrupted batch as dropped and settles it."""
        with self.lock:
            self._dropped += sum(map(len, batch.by_kind.values()))
            for events in batch.by_kind.values():
                events.clear()
        self.settle(batch)

    def deliver(self, batch: Batch) -> Delivery:
        """Delivers a batch: one POST per kind, each until it is settled."""
        try:
            for kind, events in batch.by_kind.items():
                yield from self._deliver(kind, events)
        except Exception:  # a bug here must not stop the sender
            logger.exception("tally client failed to deliver a batch")
            self.lose(batch)

    def _deliver(self, kind: str, events: list[Event]) -> Delivery:
        """Sends ``events`` of one kind, retrying until Tally has settled each.

        Events leave ``events`` as they are settled (acknowledged, refused or
        given up), so what is left is always what is still unsent.
        """
        attempt = 0
        limit = len(events)
        body: bytes | None = None
        while events:
            if self.abandoned:
                logger.warning("tally client gave up on %d unsent %s events", len(events), kind)
                self._count_dropped(len(events))
                events.clear()
                return
            part = events[:limit]
            if body is None:
                body = json.dumps(part, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            reply = yield Post(PATHS[kind], body, len(part))
            assert reply is not None
            status = reply.status
            if status is None or status >= 500 or status in RETRYABLE:
                self._retries += 1
                delay = self._backoff(attempt, retry_after_seconds(reply.retry_after))
                attempt += 1
                logger.info(
                    "Tally did not take %d %s events (%s); retry %d in %.2f s",
                    len(part),
                    kind,
                    reply.error or status,
                    attempt,
                    delay,
                )
                yield Pause(delay)
                continue
            body = None
            if 200 <= status < 300:
                self._acknowledged(len(part), reply.body)
                del events[: len(part)]
                attempt = 0
                continue
            error, index = _error_of(reply.body)
            if status == 400 and index is not None and 0 <= index < len(part):
                # All or nothing: Tally stored none of them, so the others go again.
                logger.error("Tally refused a %s event (%s): %r", kind, error, part[index])
                del events[index]
                self._rejected += 1
                continue
            if status == 413 and len(part) > 1:
                limit = len(part) // 2
                continue
            logger.error("Tally refused %d %s events with %s: %s", len(part), kind, status, error)
            self._rejected += len(part)
            del events[: len(part)]

    def _acknowledged(self, n: int, body: bytes) -> None:
        self._sent += n
        try:
            duplicates = json.loads(body).get("duplicates", 0)
        except (ValueError, AttributeError):
            duplicates = 0
        if isinstance(duplicates, int):
            self._duplicates += duplicates

    def _count_dropped(self, n: int) -> None:
        with self.lock:
            self._dropped += n

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2^attempt)].

        A ``Retry-After`` (obeyed up to :data:`MAX_RETRY_AFTER`) is a floor:
        never sooner than asked, spread by the jitter beyond it, so clients
        told the same time do not come back together.
        """
        settings = self.settings
        ceiling = min(settings.backoff_max, settings.backoff_initial * 2 ** min(attempt, 32))
        jitter = self._rng.uniform(0.0, ceiling)
        if retry_after is None:
            return jitter
        return min(retry_after, MAX_RETRY_AFTER) + jitter
