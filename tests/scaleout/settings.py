"""Production settings for the many-instances test's workers and beat: a faster schedule.

Every interval of CELERY_BEAT_SCHEDULE becomes SCALEOUT_PERIOD_SECONDS (and
its message expiry shrinks in proportion), so that a test of seconds sees
several periods. Crontab entries stay as they are.
"""

import os
from typing import Any

from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BEAT_SCHEDULE as PRODUCTION_SCHEDULE

PERIOD = float(os.environ["SCALEOUT_PERIOD_SECONDS"])


def _faster(entry: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(entry["schedule"], float):
        return entry
    share = PERIOD / entry["schedule"]
    options = {**entry["options"], "expires": entry["options"]["expires"] * share}
    return {**entry, "schedule": PERIOD, "options": options}


CELERY_BEAT_SCHEDULE = {name: _faster(entry) for name, entry in PRODUCTION_SCHEDULE.items()}
