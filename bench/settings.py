"""The bench's server settings: production's, plus one reference route (bench/urls.py).

Only ROOT_URLCONF differs, so every figure is still measured through the
project's own middleware, views and services.
"""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
