"""A tiny progress bar for management commands (on stderr, so stdout stays parseable)."""

import time
from typing import Any, Protocol


class Stream(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


class Progress:
    """`Progress(total, label, stream)`; call `advance(n)` as work is done and `done()` at the end.

    On a terminal the bar redraws in place (at most five times a second);
    elsewhere (logs, CI) one line is written per 10% so output stays short.
    """

    def __init__(self, *, total: int, label: str, stream: Stream, width: int = 30) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream
        self.width = width
        self.count = 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._last_decile = -1

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= 0.2 or self.count >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line())
                self.stream.flush()
        else:
            decile = self.count * 10 // self.total if self.total else 10
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line() + "\n")

    def done(self) -> None:
        if self.count < self.total:
            self.count = self.total
        if self.tty:
            self.stream.write("\r" + self._line() + "\n")
        elif self._last_decile != 10:
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def _line(self) -> str:
        fraction = min(self.count / self.total, 1.0) if self.total else 1.0
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label:<12} [{bar}] {fraction:4.0%} {self.count}/{self.total}"
