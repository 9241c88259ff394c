"""``Tally``: the client for threaded code, sending from one background thread."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from types import TracebackType

import httpx

from ._core import Core
from ._recorder import Recorder
from ._types import GRACE, Delivery, Pause, Reply

logger = logging.getLogger("tally_client")


class Tally(Recorder):
    """Records events from any thread and sends them from a daemon thread.

    ``record_*`` only queues; :meth:`flush` waits for delivery, :meth:`close`
    (or leaving a ``with`` block) flushes and stops the thread. An open client
    is flushed at interpreter exit for up to ``close_timeout`` seconds.
    After ``os.fork()`` (a pre-forking server) the child has a sender of its
    own with an empty queue; the parent keeps sending what it had queued.

    >>> with Tally("http://127.0.0.1:8080", ingest_key) as tally:  # doctest: +SKIP
    ...     tally.record_execution(execution_id="e1", language="python",
    ...                            status="completed", execution_time_ms=12.5)
    """

    def _open(self) -> None:
        lock = threading.RLock()
        self._cond = threading.Condition(lock)
        self._core = Core(self.settings, lock, self._cond.notify_all, self._cond.notify_all)
        self._interrupt = threading.Event()
        self._http = httpx.Client(base_url=self.url, headers=self._headers, timeout=self.settings.timeout)
        self._thread = threading.Thread(target=self._run, name="tally-sender", daemon=True)
        self._thread.start()
        self._closed = False
        atexit.register(self.close)

    def _forked(self) -> None:
        # The sender thread did not survive the fork and its lock may be held:
        # the child opens a new one (``_open`` registers ``close`` again).
        atexit.unregister(self.close)
        super()._forked()

    def flush(self, timeout: float | None = None) -> bool:
        """Sends everything recorded so far; ``True`` once it is all settled
        (sent, rejected or dropped), ``False`` if ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        target = self._core.begin_flush()
        try:
            with self._cond:
                while not self._core.flushed(target):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    if not self._thread.is_alive():
                        return False
                    self._cond.wait(remaining)
            return True
        finally:
            self._core.end_flush()

    def close(self, timeout: float | None = None) -> None:
        """Flushes for up to ``timeout`` seconds (``close_timeout`` by default), then stops.

        Returns within ``timeout`` plus a fraction of a second. Events still
        queued then are counted as dropped; a request already in flight
        finishes on the sender thread and is counted when it does.
        Recording after close drops the event (counted) instead of raising.
        """
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        timeout = self.settings.close_timeout if timeout is None else timeout
        self._core.close()
        self._thread.join(timeout)
        if self._thread.is_alive():
            unsent = self._core.abandon()
            self._interrupt.set()
            # A request in flight may still finish on the (daemon) thread; it is counted when it does.
            self._thread.join(GRACE)
            logger.warning("tally client closed with events unsent (%d queued were dropped)", unsent)

    def __enter__(self) -> Tally:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the sender thread ----------------------------------------------------

    def _run(self) -> None:
        core = self._core
        try:
            while True:
                with self._cond:
                    while True:
                        if core.done:
                            return
                        wait = core.next_batch_in(time.monotonic())
                        if wait == 0:
                            break
                        self._cond.wait(wait)
                    batch = core.take()
                self._perform(core.deliver(batch))
                core.settle(batch)
        finally:
            self._http.close()

    def _perform(self, delivery: Delivery) -> None:
        """Carries out a delivery's operations: POSTs with httpx, pauses on an event."""
        reply: Reply | None = None
        while True:
            try:
                operation = delivery.send(reply)
            except StopIteration:
                return
            if isinstance(operation, Pause):
                self._interrupt.wait(operation.seconds)
                reply = None
            else:
                try:
                    reply = Reply.of(self._http.post(operation.path, content=operation.body))
                except httpx.HTTPError as error:
                    reply = Reply.failed(error)
