"""Django's PostgreSQL backend that counts commit attempts.

A request or task whose connection dies may run again on a fresh connection
only if nothing it did can have reached the database: no transaction of it
was committed, or was being committed when the connection died, and no write
ran outside a transaction (each such statement commits by itself).
`commits_attempted` counts both, before they are sent, so a commit whose
answer was lost counts too: a unit of work that failed with the count
unchanged left nothing behind. Writes that are harmless to repeat (an
`INSERT ... ON CONFLICT DO NOTHING` of a key row) can be left out with
`core.database.repeatable()`.
"""

from collections.abc import Callable
from typing import Any

from django.db.backends.postgresql import base

_READS = ("SELECT", "SHOW", "SET ", "EXPLAIN")


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commits_attempted = 0
        self.repeatable_depth = 0
        self.execute_wrappers.append(self._count_autocommit_writes)

    def commit(self) -> None:
        if not self.repeatable_depth:
            self.commits_attempted += 1
        super().commit()

    def _count_autocommit_writes(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        reads = isinstance(sql, str) and sql.lstrip().upper().startswith(_READS)
        if not self.in_atomic_block and not self.repeatable_depth and not reads:
            self.commits_attempted += 1
        return execute(sql, params, many, context)
