"""Scheduled tasks run at most once per period, however many beats and workers send them.

Beat keeps its schedule in its own process (and a file): a beat restarted
from an older schedule file sends what it believes is overdue at once, and
during a rolling deploy an old and a new beat may both be sending for a
while. Each message is taken by one worker only, but two messages sent for
one period would both run.

So beat (`Scheduler`, CELERY_BEAT_SCHEDULER) stamps each message with the
time it sent it, and a run of a stamped message first claims its task
(`periodic_run_claim`): in one Redis script, it may run only if it was sent
at least CLAIM_SHARE of the task's period after the send time of the last
run that claimed it, which it then becomes. Every other message of that
task is skipped (logged), however late a worker takes it: the claimed send
times of a task are always at least 0.9 period apart. The claim records the
task id, so a run retried after a database outage (same id) is still the
claimant. Runs not sent by beat (`celery call`, a test, a manual `.delay()`)
are never skipped.

Redis unreachable: the claim cannot be taken or refused, and the run goes
ahead (every scheduled task is safe to run twice; the claim saves work, it
is not what keeps the data right). Without django-redis (`make run`: tasks
run inline, there is no beat) nothing is claimed.
"""

import logging
import time
from datetime import UTC, datetime
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab, maybe_schedule, schedule
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger("stockroom.tasks")

CLAIM_PREFIX = "periodic:"
# Two runs are at least this share of the period apart (by when beat sent them),
# so that beat's own timing (a tick a little early) never skips a period.
CLAIM_SHARE = 0.9
BEAT_HEADER = "celery_beat_task"  # Celery's own mark on what beat sends
SENT_AT_HEADER = "stockroom_sent_at"

# KEYS[1]: the claim. ARGV: sent at, task id, least gap (s), claim lifetime (ms).
# The claim is "<sent at> <task id>" of the last run allowed. Returns 1: run.
_CLAIM = """
local last = redis.call('GET', KEYS[1])
if last then
  local sent, id = string.match(last, '^(%S+) (.*)$')
  if id ~= ARGV[2] and tonumber(ARGV[1]) < tonumber(sent) + tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[4])
return 1
"""


class Scheduler(PersistentScheduler):
    """Celery's scheduler (state in the --schedule file), stamping what it sends with the time."""

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        if advance:
            entry = self.reserve(entry)
        # A copy: the entry itself is kept in the schedule file, the stamp is per message.
        headers = {**entry.options.get("headers", {}), SENT_AT_HEADER: time.time()}
        stamped = type(entry)(**{**dict(entry), "options": {**entry.options, "headers": headers}})
        return super().apply_async(stamped, producer=producer, advance=False, **kwargs)


def schedule_period(*, task_name: str, now: datetime | None = None) -> float | None:
    """Seconds from `now` until beat next sends `task_name` (the shortest of its entries).

    None when the task is not in CELERY_BEAT_SCHEDULE. For an interval that
    is the interval; for a crontab the time to its next match after now.
    """
    now = now or datetime.now(UTC)
    periods = [
        _seconds_to_next(maybe_schedule(entry["schedule"]), now=now)
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == task_name
    ]
    return min(periods) if periods else None


def _seconds_to_next(entry_schedule: Any, *, now: datetime) -> float:
    if isinstance(entry_schedule, schedule):
        return float(entry_schedule.run_every.total_seconds())
    if isinstance(entry_schedule, crontab):
        start, forward, _ = entry_schedule.remaining_delta(now)
        return float((start + forward - start).total_seconds())
    return float(entry_schedule.remaining_estimate(now).total_seconds())


_scripts: dict[int, Any] = {}


def _claim_script() -> Any:
    """The claim script on the default cache's Redis; None without django-redis."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    connection = client.get_client(write=True)
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts[id(connection)] = connection.register_script(_CLAIM)
    return script


def periodic_run_claim(*, task_name: str, task_id: str, sent_at: float | None = None) -> bool:
    """Claim the run of `task_name` that beat sent at `sent_at` (now if unknown) for `task_id`.

    False if a run sent less than CLAIM_SHARE of the period before (or any
    time after) it has claimed the task: skip this one. True also when the
    task is not scheduled, or when Redis cannot be asked.
    """
    period = schedule_period(task_name=task_name)
    script = _claim_script()
    if period is None or script is None:
        return True
    sent_at = time.time() if sent_at is None else sent_at
    gap = period * CLAIM_SHARE
    key = cache.make_key(f"{CLAIM_PREFIX}{task_name}")
    # The claim outlives the next run's gap, so that a late message still meets it.
    lifetime_ms = int(max(gap * 2, 1.0) * 1000)
    try:
        claimed = script(keys=[key], args=[repr(sent_at), task_id, repr(gap), lifetime_ms])
    except RedisError:
        logger.warning("could not claim a scheduled run: running it", exc_info=True)
        return True
    extra = {"periodic_task": task_name, "task_id": task_id, "sent_at": sent_at, "period": period}
    if not claimed:
        logger.info("scheduled task skipped: it ran less than a period ago", extra=extra)
        return False
    logger.info("scheduled task claimed its period", extra=extra)
    return True
