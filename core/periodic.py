"""Scheduled tasks run at most once per period, however many beats and workers send them.

Beat keeps its schedule in its own process (and a file): a beat restarted
from an older schedule file sends what it believes is overdue at once, and
during a rolling deploy an old and a new beat may both be sending for a
while. Each message is taken by one worker only, but two messages sent for
one period would both run.

So a run that beat sent (Celery marks its messages with the
`celery_beat_task` header) first claims its task in Redis: `SET NX` of
`periodic:<task name>` with a lifetime of CLAIM_SHARE of the time until the
task is next due. Only the first run of a period gets the claim; any other
run of that task before the claim lapses is skipped (logged). The claim
holds the task id, so a run retried after a database outage (same id) is
still the claimant. Runs not sent by beat (`celery call`, a test, a manual
`.delay()`) are never skipped.

Redis unreachable: the claim cannot be taken or refused, and the run goes
ahead (every scheduled task is safe to run twice; the claim saves work, it
is not what keeps the data right).
"""

import logging
from datetime import UTC, datetime

from typing import Any

from celery.schedules import crontab, maybe_schedule, schedule
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("stockroom.tasks")

CLAIM_PREFIX = "periodic:"
# A claim lapses a little before the next run is due, so that a run which is
# late by less than the rest of the period (a busy queue) is not skipped.
CLAIM_SHARE = 0.9
BEAT_HEADER = "celery_beat_task"


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


def periodic_run_claim(*, task_name: str, task_id: str) -> bool:
    """Claim this period's run of `task_name` for `task_id`; False if another run has it.

    True also when the task is not scheduled, or when Redis cannot be asked.
    """
    period = schedule_period(task_name=task_name)
    if period is None:
        return True
    key = f"{CLAIM_PREFIX}{task_name}"
    lifetime = max(1.0, period * CLAIM_SHARE)
    claimed = cache.add(key, task_id, timeout=lifetime)
    if claimed is None:  # django-redis answers None when Redis is unreachable
        return True
    if not claimed and cache.get(key) != task_id:
        logger.info(
            "scheduled task skipped: it ran less than a period ago",
            extra={"periodic_task": task_name, "task_id": task_id, "period": period},
        )
        return False
    logger.info(
        "scheduled task claimed its period",
        extra={"periodic_task": task_name, "task_id": task_id, "period": period},
    )
    return True
