"""Notice a client hanging up while its request waits for a slot, is prefilled, or gets a non-streamed reply.

Once the body has been read, the only message the server can still receive is `http.disconnect`, so a task
that waits on `receive` learns of the hang-up at once, and the work done for that client stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable, MutableMapping, TypeVar

T = TypeVar("T")


class ClientLeft(Exception):
    """The client hung up; nobody is left to read an answer."""


class DisconnectWatch:
    """Listens on the ASGI `receive` channel until the client disconnects or `stop` is called."""

    def __init__(self, receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
        self._listener = asyncio.ensure_future(self._listen(receive))

    @staticmethod
    async def _listen(receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    @property
    def client_left(self) -> bool:
        """True once the client has hung up."""
        return self._listener.done() and not self._listener.cancelled()

    def on_leave(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) as soon as the client hangs up."""
        self._listener.add_done_callback(lambda task: None if task.cancelled() else callback())

    async def race(self, work: Awaitable[T], undo: Callable[[T], None]) -> T:
        """The result of `work`, unless the client leaves first: then `work` is cancelled (or undone) and ClientLeft raised."""
        task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task, self._listener}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not self.client_left:
            return task.result()
        task.cancel()
        try:
            result = await task
        except asyncio.CancelledError:
            raise ClientLeft() from None
        undo(result)
        raise ClientLeft()

    async def stop(self) -> None:
        """Stop listening, so a streamed response can take over the receive channel."""
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
