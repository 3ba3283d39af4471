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


def _settings_in_fresh_process(**env: str) -> dict:
    """Import the base settings with exactly these variables (no .env surprises)."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps("
        "{'broker': settings.CELERY_BROKER_URL, 'eager': settings.CELERY_TASK_ALWAYS_EAGER}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "true",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_broker_tasks_run_inline():
    assert _settings_in_fresh_process(REDIS_URL="") == {"broker": "", "eager": True}


def test_broker_defaults_to_redis_on_its_own_database_number():
    assert _settings_in_fresh_process(REDIS_URL="redis://cache.internal:6379/0") == {
        "broker": "redis://cache.internal:6379/2",
        "eager": False,
    }


def test_broker_url_from_the_environment_wins():
    found = _settings_in_fresh_process(
        REDIS_URL="redis://cache.internal:6379/0", CELERY_BROKER_URL="redis://broker:6379/5"
    )
    assert found == {"broker": "redis://broker:6379/5", "eager": False}


def test_beat_runs_expiry_every_minute_and_the_purge_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    expiry = schedule["orders-cancel-expired"]
    assert (expiry["task"], expiry["schedule"]) == ("orders.tasks.cancel_expired_orders", 60.0)
    purge = schedule["orders-purge-idempotency-keys"]
    assert purge["task"] == "orders.tasks.purge_idempotency_keys"
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
