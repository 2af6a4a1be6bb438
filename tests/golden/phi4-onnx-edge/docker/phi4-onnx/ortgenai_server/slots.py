"""Generation slots: at most `capacity` generations run, at most `max_waiting` requests queue for one."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from .metrics import ServerMetrics

T = TypeVar("T")


class OverloadedError(RuntimeError):
    """Every slot is busy and the queue is full; the client should retry later."""


class Slot:
    """A held generation slot; releasing twice is harmless, so every exit path may release."""

    def __init__(self, pool: "SlotPool") -> None:
        self._pool = pool
        self._held = True

    def release(self) -> None:
        """Give the slot back to the next waiting request."""
        if self._held:
            self._held = False
            self._pool._release()


class SlotPool:
    """Bounds concurrent generations and runs their blocking steps on a thread pool of the same size."""

    def __init__(self, capacity: int, max_waiting: int, metrics: ServerMetrics) -> None:
        self.capacity = capacity
        self.max_waiting = max_waiting
        self._metrics = metrics
        self._semaphore = asyncio.Semaphore(capacity)
        self._waiting = 0
        self._executor = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="ortgenai-generate")
        metrics.max_concurrency.set(capacity)

    async def acquire(self) -> Slot:
        """Wait for a free slot, or fail fast when the queue is already full."""
        if self._semaphore.locked() and self._waiting >= self.max_waiting:
            raise OverloadedError(f"all {self.capacity} generation slots are busy and {self._waiting} requests wait")
        self._waiting += 1
        self._metrics.waiting.inc()
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
            self._metrics.waiting.dec()
        self._metrics.running.inc()
        return Slot(self)

    async def run(self, function: Callable[..., T], *args) -> T:
        """Run blocking native work on the generation threads, keeping the event loop free."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def shutdown(self) -> None:
        """Stop the worker threads once running steps finish."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _release(self) -> None:
        self._metrics.running.dec()
        self._semaphore.release()
