"""Settings of the real Celery worker the tests start: the test settings, not eager.

Every key the worker uses in Redis carries the test's own prefix, so restoring
"unacknowledged" messages (a shared hash otherwise) never touches another
test run's messages on the same Redis database.
"""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": os.environ["TEST_CELERY_KEY_PREFIX"],
}
