"""Settings of the real Celery worker the tests start: the test settings, not eager."""

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
