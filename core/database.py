"""A database that is briefly gone: the request runs again, or answers 503 `unavailable`.

A connection can die under a request (the server restarts, fails over, or an
operator terminates backends), and the pool can have no connection to give
(PostgreSQL is down: the wait ends after DB_POOL_TIMEOUT). Neither is a bug
of the request, so neither is a 500:

* `DatabaseRetryMiddleware` runs a request once more, on a fresh connection,
  when its connection broke before anything it did could have been committed
  (core.postgresql counts commit attempts; side effects run after commit
  or are outbox rows, so a rolled-back attempt left nothing behind);
* otherwise the answer is 503 `unavailable` with `Retry-After`: the handler
  for uncaught errors (core.errors.json_500) and the API's exception
  handler both give it. A commit whose outcome is unknown ends here too; a
  client that retries with its `Idempotency-Key` then gets the order if it
  was committed (its stored response is in the same transaction) or places
  it if it was not.

A pool timeout is not retried: the wait for a connection already took
DB_POOL_TIMEOUT, the bound on how long a request waits for the database.
A failure on a read replica is always retried (it marked the replica down,
so the second run reads the primary), a replica's pool timeout included.
"""

import contextlib
import io
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import PoolTimeout

from core import replicas

logger = logging.getLogger("stockroom.database")

RETRY_AFTER_SECONDS = 2
# Connection exceptions, operator intervention (admin/crash shutdown, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_FAILURE = "database_failure"
UNAVAILABLE_DETAIL = "The database is unavailable. Retry shortly."


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached or the connection broke.

    A query's own error (a lock timeout, a deadlock, a constraint) is not one,
    unless it happened on a read replica (core.replicas): any operational
    error there is the replica's, and the primary can answer instead.
    """
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    if getattr(exc, "replica_alias", None) is not None:
        return True
    cause = exc.__cause__
    if isinstance(exc, InterfaceError) or isinstance(cause, PoolTimeout):
        return True
    sqlstate = getattr(cause, "sqlstate", None)
    # No SQLSTATE: psycopg's own, client-side errors (connection lost or refused).
    return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def database_failure_record(request: HttpRequest, exc: BaseException) -> None:
    """Note on the request that the database failed it (DatabaseRetryMiddleware reads it)."""
    request.__dict__[_FAILURE] = exc


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 `unavailable` with Retry-After: JSON under /api/, plain text elsewhere."""
    detail = UNAVAILABLE_DETAIL
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "unavailable", "detail": detail}, status=503)
    else:
        response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@contextlib.contextmanager
def repeatable() -> Iterator[None]:
    """Writes inside are safe to run twice: they do not stop a retry of the request."""
    if not hasattr(connection, "repeatable_depth"):
        yield
        return
    connection.repeatable_depth += 1
    try:
        yield
    finally:
        connection.repeatable_depth -= 1


def _commits_attempted() -> int | None:
    return getattr(connection, "commits_attempted", None)


def _discard_broken_connections() -> None:
    """Return the broken connection to its pool (which drops it), then drop the pool's dead ones.

    Connections cut together (a restart, a failover) sit idle in the pool; a
    check of each now, a round trip each, spares the retry the pool's backoff
    between failed checks of one dead connection after another.
    """
    connection.close()
    pool = getattr(connection, "pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.check()


def _buffer_body(request: HttpRequest) -> bool:
    """Read the body into memory, so a second run reads it again. False if it cannot be."""
    try:
        request.body  # noqa: B018 - reading it caches it on the request
    except RequestDataTooBig:
        return False
    except Exception:  # noqa: BLE001 - already streamed: no second run
        return False
    return True


def _rewind_body(request: HttpRequest) -> None:
    body = request.body
    request._stream = io.BytesIO(body)
    request._read_started = False  # type: ignore[attr-defined]


class DatabaseRetryMiddleware:
    """Run a request again once when its connection broke before any commit; else its 503 stands.

    Place it outside everything that uses the database (sessions,
    authentication, idempotency) and after the body size limit.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        can_rerun = _buffer_body(request)
        before = _commits_attempted()
        replicas.failure_take()  # a flag left by an earlier request of this thread
        response = self.get_response(request)
        failure = request.__dict__.pop(_FAILURE, None)
        replica_failed = replicas.failure_take()
        if failure is None:
            return response
        committed = before is None or _commits_attempted() != before
        pool_timeout = isinstance(failure.__cause__, PoolTimeout) and not replica_failed
        if not can_rerun or committed or pool_timeout:
            logger.warning(
                "database unavailable: answered 503",
                extra={"path": request.path, "error": _first_line(failure)},
            )
            return response
        logger.warning(
            "database connection broke: running the request again",
            extra={"path": request.path, "error": _first_line(failure)},
        )
        response.close()
        _discard_broken_connections()
        _rewind_body(request)
        response = self.get_response(request)
        failure = request.__dict__.pop(_FAILURE, None)
        if failure is not None:
            logger.warning(
                "database unavailable on the second run: answered 503",
                extra={"path": request.path, "error": _first_line(failure)},
            )
        return response


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _record_uncaught(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    exc = sys.exception()
    if request is not None and exc is not None and database_unavailable(exc):
        database_failure_record(request, exc)


got_request_exception.connect(_record_uncaught, dispatch_uid="stockroom.database_failure")
