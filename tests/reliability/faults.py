"""Database faults injected at chosen points: a backend terminated before a statement or at commit.

Each helper works on a connection of its own (psycopg, outside Django), so
the connection under test is cut by PostgreSQL itself, as an operator's
`pg_terminate_backend`, a restart or a failover would cut it.
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from django.db import connection


def _conninfo() -> str:
    params = connection.get_connection_params()
    params.pop("pool", None)
    params.pop("options", None)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def admin_execute(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run `sql` on a connection of its own (autocommit) and return its rows."""
    with psycopg.connect(_conninfo(), autocommit=True) as admin:
        cursor = admin.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def terminate(pids: list[int]) -> int:
    """pg_terminate_backend each pid, and wait until they are gone; returns how many were."""
    if not pids:
        return 0
    with psycopg.connect(_conninfo(), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
            "pg_stat_activity WHERE pid = ANY(%s)",
            [pids],
        ).fetchone()
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated backends did not exit"
            time.sleep(0.02)
    return int(killed[0]) if killed else 0


@contextlib.contextmanager
def cut_before(match: Callable[[str], bool], *, times: int = 1) -> Iterator[list[str]]:
    """Terminate this thread's backend just before each of the next `times` statements matching.

    Yields the statements it cut before (so a test can check the fault struck).
    """
    cut: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if len(cut) < times and isinstance(sql, str) and match(sql):
            cut.append(sql)
            terminate([context["connection"].connection.info.backend_pid])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield cut


@contextlib.contextmanager
def die_at_commit(
    *, table: str, times: int = 1, application_name: str | None = None
) -> Iterator[Callable[[], int]]:
    """The next `times` transactions that insert into `table` are terminated at their COMMIT.

    A deferred constraint trigger runs inside the commit: it terminates its own
    backend and waits to be killed, so the transaction is never committed and
    the client loses its connection in the middle of `commit()`. With an
    `application_name`, only that client's transactions. Yields a function
    returning how many were terminated so far.
    """
    only = ""
    if application_name is not None:
        only = f"current_setting('application_name') = {_quote(application_name)} AND "
    statements = [
        "CREATE SEQUENCE fault_commit_kills",
        "CREATE FUNCTION fault_die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF {only}nextval('fault_commit_kills') <= {int(times)} THEN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(30); "
        "END IF; RETURN NULL; END $$",
        f"CREATE CONSTRAINT TRIGGER fault_die_at_commit AFTER INSERT ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_die_at_commit()",
    ]
    for sql in statements:
        admin_execute(sql)

    def killed() -> int:
        (last, called), *_ = admin_execute("SELECT last_value, is_called FROM fault_commit_kills")
        return min(int(last), times) if called else 0

    try:
        yield killed
    finally:
        admin_execute(f"DROP TRIGGER IF EXISTS fault_die_at_commit ON {table}")
        admin_execute("DROP FUNCTION IF EXISTS fault_die_at_commit()")
        admin_execute("DROP SEQUENCE IF EXISTS fault_commit_kills")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
