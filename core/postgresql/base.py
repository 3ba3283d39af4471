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

On a read replica (core.replicas), a connection or query that fails for
the server's sake (connection errors, a query cancelled for a conflict with
recovery) marks the replica down and the error as the replica's: the
request then runs again on the primary instead of failing.

The pool checks each connection it hands out (CONN_HEALTH_CHECKS) with
`connection_check`: psycopg's check costs a round trip on every checkout,
this one a poll of the socket unless something is waiting on it.
"""

import select
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def connection_check(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of an idle connection it is about to hand out: raise if it is gone.

    An idle connection has nothing to read. When the server ends it (a
    restart, a failover, `pg_terminate_backend`), its farewell (the FATAL
    error, then the end of the stream) waits on the socket: so a socket with
    nothing to read passes at the cost of one poll, and one with something to
    read gets psycopg's own check (a round trip), which raises if the
    connection is gone and the pool takes another. A connection cut at the
    very moment it is handed out fails its first statement instead, as after
    psycopg's check: DatabaseRetryMiddleware runs that request again.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


_READS = ("SELECT", "SHOW", "SET ", "EXPLAIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commits_attempted = 0
        # Statements that may write, in a transaction or not (core.replicas: "has this written?").
        self.writes_attempted = 0
        self.repeatable_depth = 0
        self.execute_wrappers.append(self._count_autocommit_writes)
        self.execute_wrappers.append(self._replica_failures)

    def _is_replica(self) -> bool:
        return self.alias in getattr(settings, "DATABASE_REPLICAS", ())

    def _replica_failed(self, exc: BaseException) -> None:
        if isinstance(exc, OperationalError | InterfaceError) and self._is_replica():
            from core import replicas

            setattr(exc, "replica_alias", self.alias)  # noqa: B010 - read by core.database
            replicas.mark_down(self.alias, exc)

    def ensure_connection(self) -> None:
        try:
            super().ensure_connection()
        except Exception as exc:
            self._replica_failed(exc)
            raise

    def _replica_failures(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            self._replica_failed(exc)
            raise

    @property
    def pool(self) -> Any:
        options = self.settings_dict["OPTIONS"].get("pool")
        if isinstance(options, dict) and self.settings_dict["CONN_HEALTH_CHECKS"]:
            options.setdefault("check", connection_check)
        return super().pool

    def commit(self) -> None:
        if not self.repeatable_depth:
            self.commits_attempted += 1
        super().commit()

    def _count_autocommit_writes(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        reads = isinstance(sql, str) and sql.lstrip().upper().startswith(_READS)
        if not self.repeatable_depth and not reads:
            self.writes_attempted += 1
            if not self.in_atomic_block:
                self.commits_attempted += 1
        return execute(sql, params, many, context)
