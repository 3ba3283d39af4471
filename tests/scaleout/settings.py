"""Production settings for the many-instances test's workers and beat: a faster schedule.

Every interval of CELERY_BEAT_SCHEDULE becomes SCALEOUT_PERIOD_SECONDS, so
that a test of seconds sees several periods. Message expiry stays as in
production (longer than these periods): on a busy test machine every
message a beat sends is run or skipped, none silently dropped, so the test
sees each duplicate a second beat sends. Crontab entries stay as they are.
"""

import os
from typing import Any

from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BEAT_SCHEDULE as PRODUCTION_SCHEDULE

PERIOD = float(os.environ["SCALEOUT_PERIOD_SECONDS"])


def _faster(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "schedule": PERIOD} if isinstance(entry["schedule"], float) else entry


CELERY_BEAT_SCHEDULE = {name: _faster(entry) for name, entry in PRODUCTION_SCHEDULE.items()}
