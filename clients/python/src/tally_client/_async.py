"""``AsyncTally``: the client for asyncio code, sending from a task on the running loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from types import TracebackType

import httpx

from ._core import Core
from ._recorder import Recorder
from ._types import GRACE, Batch, Delivery, Pause, Reply

logger = logging.getLogger("tally_client")


class AsyncTally(Recorder):
    """Records events without awaiting and sends them from an asyncio task.

    ``record_*`` are plain (non-``async``) calls that only queue; the sender
    task starts on the running loop at the first event (or at ``async with``).
    ``await flush()`` waits for delivery; ``await aclose()`` flushes and stops.
    Recording from another thread is safe too: the task is woken through the loop.

    >>> async with AsyncTally("http://127.0.0.1:8080", ingest_key) as tally:  # doctest: +SKIP
    ...     tally.record_request(method="GET", endpoint="/items/{id}",
    ...                          status_code=200, duration_ms=3.2)
    """

    def _open(self) -> None:
        self._core = Core(self.settings, threading.RLock(), self._wake_sender, self._wake_flushers)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._interrupt = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._closed = False

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=self._headers, timeout=self.settings.timeout
        )
        self._task = loop.create_task(self._run(), name="tally-sender")

    def _ensure_started(self) -> asyncio.Task[None]:
        if self._task is None:
            self._start(asyncio.get_running_loop())
        assert self._task is not None
        return self._task

    def _set(self, event: asyncio.Event) -> None:
        """Sets ``event`` from the loop's thread or any other."""
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: the task starts with ``async with`` or the next record
            self._start(loop)
        if threading.get_ident() == self._loop_thread:
            event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def _wake_sender(self) -> None:
        self._set(self._wake)

    def _wake_flushers(self) -> None:
        self._set(self._progress)

    async def flush(self, timeout: float | None = None) -> bool:
        """Sends everything recorded so far; ``True`` once it is all settled
        (sent, rejected or dropped), ``False`` if ``timeout`` seconds passed first.
        """
        task = self._ensure_started()
        core = self._core
        target = core.begin_flush()
        try:
            async with asyncio.timeout(timeout):
                while not core.flushed(target):
                    if task.done():
                        return False
                    self._progress.clear()
                    await self._progress.wait()
            return True
        except TimeoutError:
            return False
        finally:
            core.end_flush()

    async def aclose(self, timeout: float | None = None) -> None:
        """Flushes for up to ``timeout`` seconds (``close_timeout`` by default), then stops.

        Returns within ``timeout`` plus a fraction of a second; events still
        unsent then (a request in flight included) are counted as dropped.
        """
        if self._closed:
            return
        self._closed = True
        timeout = self.settings.close_timeout if timeout is None else timeout
        task = self._ensure_started()
        self._core.close()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            unsent = self._core.abandon()
            self._interrupt.set()
            done, _ = await asyncio.wait({task}, timeout=GRACE)
            if not done:
                task.cancel()  # the request in flight: its events are counted as dropped
                await asyncio.wait({task})
            logger.warning("tally client closed with events unsent (%d queued were dropped)", unsent)

    async def __aenter__(self) -> AsyncTally:
        self._ensure_started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the sender task ------------------------------------------------------

    async def _run(self) -> None:
        core = self._core
        batch: Batch | None = None
        try:
            while not core.done:
                wait = core.next_batch_in(time.monotonic())
                if wait != 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                    continue
                batch = core.take()
                await self._perform(core.deliver(batch))
                core.settle(batch)
                batch = None
        except asyncio.CancelledError:
            core.abandon()
            if batch is not None:
                core.lose(batch)
            raise
        finally:
            assert self._http is not None
            await self._http.aclose()

    async def _perform(self, delivery: Delivery) -> None:
        """Carries out a delivery's operations: POSTs with httpx, pauses on an event."""
        assert self._http is not None
        reply: Reply | None = None
        while True:
            try:
                operation = delivery.send(reply)
            except StopIteration:
                return
            if isinstance(operation, Pause):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._interrupt.wait(), operation.seconds)
                reply = None
            else:
                try:
                    reply = Reply.of(await self._http.post(operation.path, content=operation.body))
                except httpx.HTTPError as error:
                    reply = Reply.failed(error)
