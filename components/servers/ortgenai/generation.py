"""One request's generation, stepped token by token on the worker threads, with its metrics."""

from __future__ import annotations

import time
from typing import AsyncIterator

from .engine import GenerationSession
from .metrics import ServerMetrics
from .slots import Slot, SlotPool
from .stops import StopMatcher


class GenerationRun:
    """Yields the reply's text as it is generated and gives the slot back exactly once when closed."""

    def __init__(
        self, session: GenerationSession, slot: Slot, pool: SlotPool, metrics: ServerMetrics,
        stops: tuple[str, ...], received_at: float,
    ) -> None:
        self.session = session
        self._slot = slot
        self._pool = pool
        self._metrics = metrics
        self._stops = stops
        self._received_at = received_at
        self._closed = False
        self.outcome = "running"
        """running, then finished (EOS, max tokens or stop), failed, or abandoned (the client left)."""

    async def deltas(self) -> AsyncIterator[str]:
        """Text deltas, never empty, with stop sequences cut out; ends at EOS, max tokens or a stop."""
        matcher = StopMatcher(self._stops)
        previous: float | None = None
        while self.outcome != "abandoned":
            try:
                step = await self._pool.run(self.session.step)
            except Exception:
                self.outcome = "failed"
                raise
            now = time.perf_counter()
            if previous is None:
                self._metrics.first_token_seconds.observe(now - self._received_at)
            else:
                self._metrics.token_seconds.observe(now - previous)
            previous = now
            text = matcher.feed(step.text)
            if matcher.stopped:
                self.session.stop_early()
                self.outcome = "finished"
                if text:
                    yield text
                return
            if text:
                yield text
            if step.done:
                self.outcome = "finished"
                tail = matcher.flush()
                if tail:
                    yield tail
                return

    def abandon(self) -> None:
        """Stop generating (at the next token) because nobody is left to read the reply."""
        if self.outcome == "running":
            self.outcome = "abandoned"

    def close(self) -> None:
        """Release the slot, free the generator and count the tokens actually processed."""
        if self._closed:
            return
        self._closed = True
        self._slot.release()
        if self.outcome in ("running", "abandoned"):
            self._metrics.errors.labels(kind="client_disconnected").inc()
        self._metrics.prompt_tokens.inc(self.session.prompt_tokens)
        self._metrics.generation_tokens.inc(self.session.completion_tokens)
        self.session.close()
