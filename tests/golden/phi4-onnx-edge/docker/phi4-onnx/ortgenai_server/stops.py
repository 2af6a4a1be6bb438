"""Stop-sequence matching over streamed text, holding back only what could still become a stop."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StopMatcher:
    """Feed text deltas; get back the text safe to emit and whether a stop sequence ended the output."""

    stops: tuple[str, ...]
    _pending: str = field(default="", init=False)
    stopped: bool = field(default=False, init=False)

    def feed(self, delta: str) -> str:
        """Return the part of the output that can no longer turn into a stop sequence."""
        if self.stopped:
            return ""
        text = self._pending + delta
        if not self.stops:
            return text
        first = min((index for index in (text.find(stop) for stop in self.stops) if index >= 0), default=-1)
        if first >= 0:
            self.stopped = True
            self._pending = ""
            return text[:first]
        hold = self._longest_stop_prefix_suffix(text)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """Release held-back text once generation ended without completing a stop sequence."""
        text, self._pending = self._pending, ""
        return "" if self.stopped else text

    def _longest_stop_prefix_suffix(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop sequence."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest
