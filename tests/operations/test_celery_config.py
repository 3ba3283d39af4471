import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


CASES = {
    "no broker": {"REDIS_URL": ""},
    "redis": {"REDIS_URL": "redis://cache.internal:6379/0"},
    "explicit": {
        "REDIS_URL": "redis://cache.internal:6379/0",
        "CELERY_BROKER_URL": "redis://b:6379/5",
    },
}
# One fresh interpreter reads the base settings once per case (cheaper than one process each).
PROBE = """
import importlib, json, os, sys
cases = json.loads(sys.argv[1])
found = {}
for name, env in cases.items():
    for key in [k for k in os.environ if k.startswith(("CELERY_", "REDIS_"))]:
        del os.environ[key]
    os.environ.update(env)
    import config.settings.base as base
    base = importlib.reload(base)
    found[name] = {"broker": base.CELERY_BROKER_URL, "eager": base.CELERY_TASK_ALWAYS_EAGER}
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def celery_settings() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(CASES)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_broker_tasks_run_inline(celery_settings):
    assert celery_settings["no broker"] == {"broker": "", "eager": True}


def test_broker_defaults_to_redis_on_its_own_database_number(celery_settings):
    assert celery_settings["redis"] == {"broker": "redis://cache.internal:6379/2", "eager": False}


def test_broker_url_from_the_environment_wins(celery_settings):
    assert celery_settings["explicit"] == {"broker": "redis://b:6379/5", "eager": False}


def test_beat_runs_expiry_every_minute_and_the_purge_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    expiry = schedule["orders-cancel-expired"]
    assert (expiry["task"], expiry["schedule"]) == ("orders.tasks.cancel_expired_orders", 60.0)
    purge = schedule["orders-purge-idempotency-keys"]
    assert purge["task"] == "core.tasks.purge_idempotency_keys"
    assert isinstance(purge["schedule"], crontab)
    assert purge["schedule"].remaining_estimate(purge["schedule"].now()).total_seconds() <= 86400
    assert schedule["webhooks-sweep"]["schedule"] == 30.0


def test_every_scheduled_task_exists():
    app.loader.import_default_modules()
    missing = [
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] not in app.tasks
    ]
    assert missing == []


@pytest.mark.parametrize(
    "name", ["webhooks.tasks.events_dispatch", "webhooks.tasks.delivery_attempt"]
)
def test_webhook_tasks_survive_a_lost_worker(name):
    app.loader.import_default_modules()
    task = app.tasks[name]
    assert task.acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
