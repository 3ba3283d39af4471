import contextlib

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db.models.signals import post_migrate
from rest_framework.test import APIClient

from pricing.seed import defaults_seed
from tests.accounts.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory


def _pricing_defaults_restore(sender, **kwargs):
    """Put back the rows the data migration seeds after a transactional test's flush."""
    if sender.name == "pricing":
        defaults_seed(apps)


post_migrate.connect(_pricing_defaults_restore, dispatch_uid="tests_pricing_defaults")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache: only this worker's keys (its own prefix)."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    yield


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


customer = user


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def superuser(db):
    return StaffFactory(is_superuser=True)


def token_client(user) -> APIClient:
    """An API client that sends a real knox token of `user`."""
    from knox.models import AuthToken

    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return token_client(user)


customer_client = user_client


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def superuser_client(superuser) -> APIClient:
    return token_client(superuser)


@contextlib.contextmanager
def celery_publishing_to(broker_url: str):
    """Tasks are published for real (not run inline) to `broker_url`, inside the block."""
    from config.celery import app, hint_connection_reset

    saved = {"task_always_eager": app.conf.task_always_eager, "broker_url": app.conf.broker_url}
    app.conf.update(task_always_eager=False, broker_url=broker_url)
    hint_connection_reset()
    try:
        yield
    finally:
        app.conf.update(saved)
        hint_connection_reset()


@pytest.fixture
def broker_unreachable():
    """Tasks are published for real, to a port where no broker listens (the broker is down)."""
    from tests.foundation.procs import free_port

    with celery_publishing_to(f"redis://127.0.0.1:{free_port()}/0"):
        yield
