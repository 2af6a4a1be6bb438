"""Per-key request-rate (token bucket) and concurrency limits, with an optional bounded queue."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from typing import Callable


class TokenBucket:
    """Allows `rate` requests per second on average and bursts of up to `capacity`."""

    __slots__ = ("rate", "capacity", "tokens", "updated")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.updated = now

    def try_take(self, now: float) -> float:
        """Take one token; return 0.0 on success, otherwise the seconds until one is free."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class ConcurrencyGate:
    """At most `limit` requests at once; up to `max_queue` more wait their turn in FIFO order."""

    def __init__(self, limit: int, max_queue: int, queue_timeout: float) -> None:
        self.limit = limit
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot right now."""
        return sum(1 for w in self._waiters if not w.done())

    def try_enter(self) -> bool:
        """Take a slot without waiting, if one is free and nobody is ahead in the queue."""
        if self.limit == 0 or (self.active < self.limit and not self.queued):
            self.active += 1
            return True
        return False

    def can_queue(self) -> bool:
        """Whether a request may wait for a slot instead of being turned away."""
        return self.queued < self.max_queue

    async def wait(self) -> bool:
        """Wait in the queue for a slot handed over by `leave`; False on timeout."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.queue_timeout)
            return True
        except TimeoutError:
            return False
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def leave(self) -> None:
        """Give the slot to the next waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.active -= 1


class BucketTable:
    """A token bucket per name (key id or client address), created on first use, in a bounded table.

    The table forgets the least recently seen name when full, so a flood of names costs bounded
    memory. For client addresses: behind a proxy every client shares the proxy's address
    (X-Forwarded-For is not trusted), so the limit then applies to all of them together.
    """

    def __init__(
        self, rate_per_second: float, burst: int, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._max_entries = max_entries
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def retry_after(self, name: str) -> float:
        """Charge one request to the name's bucket; 0.0 if allowed, else seconds to wait."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._max_entries:
                self._buckets.popitem(last=False)
            bucket = self._buckets[name] = TokenBucket(self._rate, self._burst, now)
        else:
            self._buckets.move_to_end(name)
        return bucket.try_take(now)


class KeyLimits:
    """The rate bucket and concurrency gate of every key id, created on first use."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        max_concurrency: int,
        max_queue: int,
        queue_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_concurrency = max_concurrency
        self._max_queue = max_queue
        self._queue_timeout = queue_timeout
        self._buckets = BucketTable(rate_per_second, burst, clock=clock)
        self._gates: dict[str, ConcurrencyGate] = {}

    def retry_after(self, key_id: str) -> float:
        """Charge one request to the key's bucket; 0.0 if allowed, else seconds to wait."""
        return self._buckets.retry_after(key_id)

    def gate(self, key_id: str) -> ConcurrencyGate:
        """The key's concurrency gate."""
        gate = self._gates.get(key_id)
        if gate is None:
            gate = self._gates[key_id] = ConcurrencyGate(self._max_concurrency, self._max_queue, self._queue_timeout)
        return gate
