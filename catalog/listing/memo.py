"""Values derived from the catalog, kept in process memory for one catalog generation."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

MEMO_MAX = 10_000


class GenerationMemo:
    """Small values many answers share (a list's count, a category's subtree), per generation.

    The generation is the catalog's (catalog.cache.generation(), the same for
    every process), and callers pass it explicitly (`at`). A catalog write
    bumps it, so a value is never used after the write commits; a value
    computed while a write commits is kept under the older generation read
    first, which no request starting after the bump asks for. Kept in process
    memory, not Redis: a hit or a miss costs no round trip. Only values of
    the newest generation asked for are kept.
    """

    def __init__(self, *, max_size: int = MEMO_MAX) -> None:
        self.max_size = max_size
        self._generation: int | None = None
        self._values: dict[tuple[str, str], Any] = {}
        self._ticks: dict[str, int] = {}

    def at(self, generation: int) -> "Memo":
        """This memo for the answers built at `generation`."""
        return Memo(store=self, generation=generation)

    def _enter(self, generation: int) -> bool:
        """Whether `generation` is the one kept (a newer one replaces what is kept)."""
        if generation == self._generation:
            return True
        if self._generation is not None and generation < self._generation:
            return False  # an older answer still being built: keep nothing for it
        self._generation, self._values, self._ticks = generation, {}, {}
        return True

    def get[T](self, generation: int, *, scope: str, parts: str, compute: Callable[[], T]) -> T:
        key = (scope, parts)
        if generation == self._generation and key in self._values:
            return cast(T, self._values[key])
        value = compute()
        if self._enter(generation):
            if len(self._values) >= self.max_size:
                self._values.clear()
            self._values[key] = value
        return value

    def tick(self, generation: int, *, scope: str) -> int:
        """How many times `scope` was ticked during `generation`, this one included."""
        if not self._enter(generation):
            return 1
        seen = self._ticks.get(scope, 0) + 1
        self._ticks[scope] = seen
        return seen


@dataclass(frozen=True)
class Memo:
    """A GenerationMemo for the answers of one generation (GenerationMemo.at)."""

    store: GenerationMemo
    generation: int

    def get[T](self, *, scope: str, parts: str, compute: Callable[[], T]) -> T:
        """`compute()`, or the value it gave for (`scope`, `parts`) during this generation."""
        return self.store.get(self.generation, scope=scope, parts=parts, compute=compute)

    def tick(self, *, scope: str) -> int:
        """Count one more use of `scope` during this generation; the count so far."""
        return self.store.tick(self.generation, scope=scope)
