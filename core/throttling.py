"""The API's per-client rate limits, every window checked in one Redis round trip.

DRF's AnonRateThrottle and UserRateThrottle keep each client's history as a
pickled list in the cache: every request reads and rewrites it, twice (one
list per throttle, and UserRateThrottle also limits anonymous clients, by
address), four cache round trips before the view runs. `ClientRateThrottle`
applies the same two rates with the same sliding-window rule (at most N
requests in any window of the rate's duration; a refused request is not
counted) as one Lua script over Redis sorted sets: the windows are checked
and, only if all allow the request, recorded, atomically. The same call can
also read extra cache keys (the catalog fast path reads its entry with it),
so a cached read costs one round trip in all.

Rates and the client's identity are DRF's own (DEFAULT_THROTTLE_RATES "anon"
and "user", `get_ident` honouring NUM_PROXIES); the keys are
`throttle:window:<scope>:<ident>`, apart from DRF's pickled lists.
Without django-redis (`make run` without REDIS_URL) the windows are kept as
DRF keeps them, in the cache. If Redis is unreachable the request is allowed,
as DRF's throttles allow it when the cache fails.
"""

import itertools
import logging
import os
from collections.abc import Sequence
from functools import cache as memoize
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from core import replicas

logger = logging.getLogger("stockroom.throttling")

# KEYS: the window keys, then keys to read. ARGV: now, a unique member, the
# number of windows, then (duration, limit) per window. Returns
# {allowed, wait seconds, value of each key to read...}.
_SCRIPT = """
local now = tonumber(ARGV[1])
local windows = tonumber(ARGV[3])
local wait = -1
for i = 1, windows do
  local duration = tonumber(ARGV[2 + 2 * i])
  local limit = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - duration)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + duration - now
    if until_free > wait then wait = until_free end
  end
end
if wait < 0 then
  for i = 1, windows do
    redis.call('ZADD', KEYS[i], now, ARGV[2])
    redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000))
  end
end
local out = {wait < 0 and 1 or 0, tostring(wait)}
for j = windows + 1, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[j])
end
return out
"""


def _redis() -> Any:
    """The raw client of the default cache when it is django-redis, else None."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True)


_scripts: dict[int, Any] = {}
# Members of a window must be unique: this process's id and a counter (no syscall).
_members = itertools.count()


@memoize
def _parsed(rate: str) -> tuple[int, int]:
    limit, duration = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    assert limit is not None and duration is not None
    return limit, duration


def _script(connection: Any) -> Any:
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts[id(connection)] = connection.register_script(_SCRIPT)
    return script


class ClientRateThrottle(SimpleRateThrottle):
    """DRF's "anon" and "user" rates, checked and recorded together (see the module).

    An authenticated caller is limited by the "user" rate, per user; an
    anonymous one by both rates, per client address, as DRF's pair does.
    """

    # Not DRF's key: its value there is a pickled list, here a sorted set.
    cache_format = "throttle:window:%(scope)s:%(ident)s"

    def __init__(self) -> None:  # the rates are per window, not one per instance
        self._wait: float | None = None

    def windows(self, request: Any) -> list[tuple[str, int, int]]:
        """(key, limit, duration in seconds) for every rate that applies to `request`."""
        user = getattr(request, "user", None)
        key: Any = getattr(request, "auth", None)
        if getattr(key, "prefix", None) is not None and hasattr(key, "integration_id"):
            # An integration's API key: its own rate, per key, apart from people's.
            scopes: list[tuple[str, Any]] = [("integration", key.pk)]
        elif user is not None and user.is_authenticated:
            scopes = [("user", user.pk)]
        else:
            ident = self.get_ident(request)
            scopes = [("anon", ident), ("user", ident)]
        found = []
        for scope, ident in scopes:
            rate = self.THROTTLE_RATES.get(scope)
            if rate is None:
                continue
            limit, duration = _parsed(rate)
            found.append((self.cache_format % {"scope": scope, "ident": ident}, limit, duration))
        return found

    def allow_request(self, request: Any, view: Any) -> bool:
        # The caller's read-replica pin rides along (core.replicas): no round trip of its own.
        pins = replicas.pin_lookup_keys(request)
        allowed, values = self.check(request, read=pins)
        if pins:
            replicas.pin_seen(request, values)
        return allowed

    def check(self, request: Any, *, read: Sequence[str] = ()) -> tuple[bool, list[Any] | None]:
        """Count `request` if every window allows it; also read the cache keys `read`.

        Returns (allowed, values of `read` in order, or None if they could not
        be read). One round trip with Redis.
        """
        windows = self.windows(request)
        connection = _redis()
        if connection is None:
            found = cache.get_many(read) if read else {}
            return self._check_in_cache(windows), [found.get(k) for k in read]
        now = self.timer()
        args: list[Any] = [now, f"{now!r}:{os.getpid()}:{next(_members)}", len(windows)]
        for _, limit, duration in windows:
            args += [duration, limit]
        keys = [cache.make_key(key) for key, _, _ in windows] + [cache.make_key(k) for k in read]
        try:
            allowed, wait, *raw = _script(connection)(keys=keys, args=args)
        except RedisError as exc:
            logger.warning("throttle unavailable, request allowed: %s", exc)
            return True, None
        self._wait = None if allowed else float(wait)
        client: Any = getattr(cache, "client")  # noqa: B009 - django-redis only
        return bool(allowed), [None if v is None else client.decode(v) for v in raw]

    def _check_in_cache(self, windows: list[tuple[str, int, int]]) -> bool:
        """DRF's own rule, kept in the cache, for caches other than Redis."""
        now = self.timer()
        histories = []
        wait = -1.0
        for key, limit, duration in windows:
            history = [t for t in cache.get(key, []) if t > now - duration]
            if len(history) >= limit:
                wait = max(wait, history[-1] + duration - now)
            histories.append((key, [now, *history], duration))
        if wait >= 0:
            self._wait = wait
            return False
        for key, history, duration in histories:
            cache.set(key, history, duration)
        return True

    def wait(self) -> float | None:
        return self._wait
