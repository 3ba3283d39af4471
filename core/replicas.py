"""Read replicas: reads that tolerate a little lag go to a streaming replica, never a stale one.

Opt-in, never by default. Reads go to a replica only inside `reads_from_replica()`
(the catalog's public reads, the order list, the back office's change lists
and exports open it); every other read, and every write, goes to the primary,
as if there were no replica. Inside the scope a read still goes to the
primary when

* it is a write, a locking read (`select_for_update`), or runs inside a
  transaction on the primary (the router sees the open atomic block);
* the request has already written something on the primary;
* the caller is *pinned*: their own write committed less than
  REPLICA_PIN_SECONDS ago, on any instance (below);
* no replica is healthy (down, not in recovery, or more than
  REPLICA_MAX_LAG_SECONDS behind), or the pin cannot be read (Redis down).

One replica serves a whole request (its page and its count agree).

Read-your-writes. A request with an unsafe method that wrote on the primary
pins its caller (the user: every token, session and API key of
theirs) in the cache, which every instance shares:
`replica-pin:user:<pk>` for REPLICA_PIN_SECONDS. Reading the pin costs no
round trip of its own on the API: the throttle's script reads it with its
windows (`pin_lookup_keys`, `pin_seen`); elsewhere (the back office) it is
one GET, made only when the request actually reads inside the scope.
Anonymous callers have no pin: nothing they can write is read back through
a replica. Shared answers (the catalog's cached responses) are not a
caller's: catalog writes mark the catalog itself as written
(catalog.cache), and a response built within the pin window is built on the
primary (`use_primary`), so a stale body is never stored under a new
generation.

Lag. Each process checks its replicas at most every REPLICA_CHECK_SECONDS,
from the request that finds the last result too old (no query per request;
other threads meanwhile use the last result): the primary's WAL insert
position is read, then each replica's replay position, on a connection of
the check's own with a short connect timeout. A replica's lag is an upper
bound of how old the newest write it may not show is: how long it took to
replay the primary's position just read, when it does within CATCH_UP_WAIT
(usual: a streaming replica is milliseconds behind); else the age of the
newest remembered primary position it has replayed, or the time since it
last replayed a commit, whichever is smaller. The pin outlives the lag bound plus
a check interval (settings enforce it), so a replica chosen after a pin
expired shows the pinned caller's write.

Failure. A query or connection that fails on a replica marks it down at once
(core.postgresql); `core.database.DatabaseRetryMiddleware` then runs the
request again, and the second run reads the primary. Never a 5xx because of
a replica. `/readyz` lists each replica's state without failing on it.
"""

import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("stockroom.replicas")

PIN_PREFIX = "replica-pin:"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# On the request: the primary's write count when it started, and the pin as read.
_WRITES_ATTR = "_replica_writes_before"
_PIN_ATTR = "_replica_pin_seen"
_STACK_ATTR = "_replica_scopes"
# How long the check waits for a replica to accept a connection (libpq's minimum is 2).
CHECK_CONNECT_TIMEOUT = 2
# How long a check waits for a replica a little behind to reach the primary's position.
CATCH_UP_WAIT = 0.05
# Primary positions remembered for the lag bound: a few lag bounds' worth of checks.
_HISTORY = 32


def aliases() -> list[str]:
    """The configured replica aliases (none: every read goes to the primary)."""
    return list(getattr(settings, "DATABASE_REPLICAS", ()))


# --- The request's scope ----------------------------------------------------------------


@dataclasses.dataclass
class _Scope:
    caller: str | None
    writes_before: int | None
    pinned: bool | None = None  # None: not read yet
    alias: str | None = None  # the replica this scope reads, once chosen
    primary: bool = False  # decided: the primary from now on


_scope: ContextVar[_Scope | None] = ContextVar("replica_scope", default=None)
_failed: ContextVar[bool] = ContextVar("replica_failed", default=False)


def _writes() -> int | None:
    """Statements that may write sent to the primary by this thread so far (core.postgresql)."""
    return getattr(connections[DEFAULT_DB_ALIAS], "writes_attempted", None)


def _django_request(request: Any) -> HttpRequest:
    return getattr(request, "_request", request)


def caller_key(request: Any) -> str | None:
    """Who the pin belongs to: the authenticated user (token, session or API key), else None."""
    user = getattr(_django_request(request), "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def pin_key(caller: str) -> str:
    return f"{PIN_PREFIX}{caller}"


@contextlib.contextmanager
def reads_from_replica(request: Any) -> Iterator[None]:
    """Reads inside may go to a replica (see the module for when they still do not).

    `request`: Django's or DRF's, authenticated already (the caller's pin is theirs).
    """
    if not aliases():
        yield
        return
    raw = _django_request(request)
    scope = _Scope(caller=caller_key(raw), writes_before=raw.__dict__.get(_WRITES_ATTR, _writes()))
    seen = raw.__dict__.get(_PIN_ATTR)
    if scope.caller is None:
        scope.pinned = False
    elif seen is not None and seen[0] == scope.caller:
        scope.pinned = seen[1]
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def replica_reads[R](view: Callable[..., R]) -> Callable[..., R]:
    """Decorate a view method `(self, request, ...)`: its reads may go to a replica."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> R:
        with reads_from_replica(request):
            return view(self, request, *args, **kwargs)

    return wrapper


def streamed[T](rows: Iterable[T]) -> Iterator[T]:
    """`rows` read in the current scope even when iterated after the view returned (a stream)."""
    scope = _scope.get()  # now: the generator below runs later

    def generate() -> Iterator[T]:
        iterator = iter(rows)
        while True:
            token = _scope.set(scope)
            try:
                row = next(iterator)
            except StopIteration:
                return
            finally:
                _scope.reset(token)
            yield row

    return generate()


def use_primary() -> None:
    """The rest of this scope reads the primary (what it builds must show the latest writes)."""
    scope = _scope.get()
    if scope is not None:
        scope.primary = True


def _pinned(caller: str) -> bool:
    """Whether `caller` wrote within the pin window; True when the cache cannot say."""
    from core.throttling import _redis  # the raw client: django-redis hides failures

    client = _redis()
    if client is None:
        return cache.get(pin_key(caller)) is not None
    try:
        return client.get(cache.make_key(pin_key(caller))) is not None
    except Exception:  # noqa: BLE001 - Redis down: the pin is unknown, so assume it
        return True


def read_alias() -> str:
    """The alias the current read goes to: a replica, or the primary (`default`)."""
    scope = _scope.get()
    if scope is None or scope.primary:
        return DEFAULT_DB_ALIAS
    primary = connections[DEFAULT_DB_ALIAS]
    if primary.in_atomic_block or _writes() != scope.writes_before:
        scope.primary = True
        return DEFAULT_DB_ALIAS
    if scope.alias is not None:
        if health_state(scope.alias) == "down":  # failed under this request
            scope.primary = True
            return DEFAULT_DB_ALIAS
        return scope.alias
    if scope.pinned is None:
        assert scope.caller is not None
        scope.pinned = _pinned(scope.caller)
    chosen = None if scope.pinned else _choose()
    if chosen is None:
        scope.primary = True
        return DEFAULT_DB_ALIAS
    scope.alias = chosen
    return chosen


def read_connection() -> Any:
    """The connection raw SQL reads should use (`read_alias`)."""
    return connections[read_alias()]


# --- Pins -------------------------------------------------------------------------------


def pin_seconds() -> int:
    return max(1, math.ceil(settings.REPLICA_PIN_SECONDS))


def pin_lookup_keys(request: Any) -> list[str]:
    """Cache keys a round trip made anyway should read for `pin_seen` (none if not needed)."""
    if not aliases() or _django_request(request).method not in _SAFE_METHODS:
        return []
    caller = caller_key(request)
    return [] if caller is None else [pin_key(caller)]


def pin_seen(request: Any, values: list[Any] | None) -> None:
    """Remember what the round trip read for `pin_lookup_keys` (None: it could not read)."""
    caller = caller_key(request)
    if caller is not None:
        pinned = values is None or values[0] is not None
        _django_request(request).__dict__[_PIN_ATTR] = (caller, pinned)


def pin(*, caller: str) -> None:
    """Send `caller`'s reads to the primary for REPLICA_PIN_SECONDS, on every instance."""
    cache.set(pin_key(caller), 1, timeout=pin_seconds())


def written_mark(*, keys: Iterable[str]) -> None:
    """Mark shared answers as just written (catalog.cache): built on the primary for a while."""
    if aliases():
        cache.set_many(dict.fromkeys(keys, 1), timeout=pin_seconds())


class ReplicaMiddleware:
    """Per request: note the primary's write count, open the scope of change lists, pin writers.

    After AuthenticationMiddleware. A request with an unsafe method that
    wrote anything on the primary pins its caller (one cache write, only
    with replicas configured). Back-office change lists (GET) read inside the
    scope, template rendering included.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not aliases():
            return self.get_response(request)
        request.__dict__[_WRITES_ATTR] = before = _writes()
        with contextlib.ExitStack() as stack:
            request.__dict__[_STACK_ATTR] = stack
            response = self.get_response(request)
        if request.method not in _SAFE_METHODS and _writes() != before:
            caller = caller_key(request)
            if caller is not None:
                pin(caller=caller)
        return response

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        stack = request.__dict__.get(_STACK_ATTR)
        if (
            stack is not None
            and request.method in ("GET", "HEAD")
            and match is not None
            and "admin" in match.namespaces
            and (match.url_name or "").endswith("_changelist")
            # Read on the primary first: who the caller is (and whether they may see it).
            and request.user.is_authenticated
        ):
            # Left when __call__ has the response, its template rendered.
            stack.enter_context(reads_from_replica(request))
        return None


def failure_take() -> bool:
    """Whether a replica failed under this request since the last call (and forget it)."""
    failed = _failed.get()
    if failed:
        _failed.set(False)
    return failed


# --- Health -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Health:
    state: str  # "ok", "lagging", "down", "not_replica"
    lag: float | None
    checked: float  # time.monotonic()
    detail: str = ""


_health: dict[str, Health] = {}
_check_lock = threading.Lock()
_check_connections: dict[str, Any] = {}
_primary_positions: deque[tuple[float, int]] = deque(maxlen=_HISTORY)
_turn = itertools.count()


def health_state(alias: str) -> str | None:
    found = _health.get(alias)
    return None if found is None else found.state


def _set_health(alias: str, health: Health) -> None:
    before = _health.get(alias)
    _health[alias] = health
    if before is None or before.state != health.state:
        level = logging.INFO if health.state == "ok" else logging.WARNING
        logger.log(
            level,
            "replica %s",
            health.state,
            extra={"replica": alias, "lag": health.lag, "error": health.detail},
        )


def mark_down(alias: str, exc: BaseException) -> None:
    """A query or connection failed on `alias`: skip it until the next check says otherwise."""
    _failed.set(True)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    _set_health(alias, Health("down", None, time.monotonic(), text))
    scope = _scope.get()
    if scope is not None and scope.alias == alias:
        scope.primary = True


def _check_close(alias: str) -> None:
    conn = _check_connections.pop(alias, None)
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def _check_connection(alias: str) -> Any:
    conn = _check_connections.get(alias)
    if conn is not None and not conn.closed:
        return conn
    import psycopg

    params = connections[alias].get_connection_params()
    params["connect_timeout"] = CHECK_CONNECT_TIMEOUT
    params["autocommit"] = True
    conn = _check_connections[alias] = psycopg.connect(**params)
    return conn


def _primary_position() -> int:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")
        return int(cursor.fetchone()[0])


_REPLAYED_SQL = "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')"
_REPLICA_SQL = (
    "SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
)


def _check(alias: str, *, primary: int, now: float) -> Health:
    try:
        conn = _check_connection(alias)
        in_recovery, replayed, since_commit = conn.execute(_REPLICA_SQL).fetchone()
        if in_recovery and replayed is not None and replayed < primary:
            # Usually milliseconds behind: wait that long, and the lag is measured exactly.
            deadline = now + CATCH_UP_WAIT
            while replayed < primary and time.monotonic() < deadline:
                time.sleep(CATCH_UP_WAIT / 10)
                (replayed,) = conn.execute(_REPLAYED_SQL).fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure: the replica is down
        _check_close(alias)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Health("down", None, now, text)
    if not in_recovery or replayed is None:
        return Health("not_replica", None, now, "not in recovery: promoted, or not a replica")
    if replayed >= primary:
        return Health("ok", time.monotonic() - now, now)
    checked = time.monotonic()
    bounds = [checked - at for at, position in _primary_positions if position <= replayed]
    if since_commit is not None:
        bounds.append(float(since_commit))
    lag = min(bounds) if bounds else None
    if lag is None or lag > settings.REPLICA_MAX_LAG_SECONDS:
        return Health("lagging", lag, now, "behind the primary")
    return Health("ok", lag, now)


def _check_due(*, force: bool, wait: bool) -> None:
    """Check the replicas whose result is older than REPLICA_CHECK_SECONDS (all if `force`).

    One query on the primary, one per replica checked. Without `wait`, a
    thread that finds another one checking goes on with the last results.
    """
    if not _check_lock.acquire(blocking=wait):
        return
    try:
        now = time.monotonic()
        due = [alias for alias in aliases() if force or _fresh(alias, now) is None]
        if not due:
            return
        primary = _primary_position()
        _primary_positions.append((now, primary))
        for alias in due:
            _set_health(alias, _check(alias, primary=primary, now=now))
    finally:
        _check_lock.release()


def check_now() -> dict[str, Health]:
    """Check every replica now, and return the results."""
    _check_due(force=True, wait=True)
    return {alias: _health[alias] for alias in aliases()}


def _fresh(alias: str, now: float) -> Health | None:
    found = _health.get(alias)
    if found is None or now - found.checked >= settings.REPLICA_CHECK_SECONDS:
        return None
    return found


def _current() -> dict[str, Health | None]:
    """Each replica's health, checked when due (no query while every result is fresh)."""
    now = time.monotonic()
    if not all(_fresh(alias, now) for alias in aliases()):
        _check_due(force=False, wait=False)
    return {alias: _health.get(alias) for alias in aliases()}


def _choose() -> str | None:
    healthy = [alias for alias, h in _current().items() if h is not None and h.state == "ok"]
    if not healthy:
        return None
    return healthy[next(_turn) % len(healthy)]


def states() -> dict[str, dict[str, Any]]:
    """Each replica's state for /readyz: {"state", "lag_seconds"} (checked when due)."""
    report: dict[str, dict[str, Any]] = {}
    for alias, health in _current().items():
        if health is None:  # another thread is checking it for the first time
            report[alias] = {"state": "unknown", "lag_seconds": None}
        else:
            lag = None if health.lag is None else round(health.lag, 3)
            report[alias] = {"state": health.state, "lag_seconds": lag}
    return report


def forget() -> None:
    """Drop every check result and check connection (tests, after changing replicas)."""
    with _check_lock:
        _health.clear()
        _primary_positions.clear()
        for alias in list(_check_connections):
            _check_close(alias)


# --- The router -------------------------------------------------------------------------


class ReplicaRouter:
    """Reads in an open `reads_from_replica` scope may go to a replica; all else to `default`."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # replicas hold the primary's rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db in aliases() else None
