"""Test settings: PostgreSQL and Redis, as in production (never mocked)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "whsec_test")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from .base import *  # noqa: F403
from .base import CACHES, PASSWORD_HASHERS, STORAGES

# Argon2 stays in the list (and is what production uses); tests hash with MD5
# first only to keep thousands of user creations fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
# Mail: Django's test runner swaps every MAILERS entry for the locmem backend.
# Static files: tests render admin pages without running collectstatic first,
# so no manifest is needed, and WhiteNoise looks files up lazily.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
CACHES["default"]["KEY_PREFIX"] = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"

# Unit tests run tasks inline; the Celery worker test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = True
