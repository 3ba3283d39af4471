import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.operations.celery_worker import BROKER_URL

ROOT = Path(__file__).resolve().parents[2]


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_all_services_up(settings, capsys):
    settings.CELERY_BROKER_URL = BROKER_URL
    call_command("check_services")
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["database", "ok"],
        ["cache", "ok"],
        ["broker", "ok"],
    ]


@pytest.mark.django_db
def test_broker_down_is_reported_and_fails(settings, capsys):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_dead_port()}/0"
    with pytest.raises(CommandError, match="Unreachable: broker"):
        call_command("check_services")
    assert "broker     DOWN" in capsys.readouterr().out


@pytest.mark.django_db
def test_cache_down_is_reported_and_fails(settings, capsys):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{_dead_port()}/0",
        }
    }
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(CommandError, match="Unreachable: cache"):
        call_command("check_services")
    out = capsys.readouterr().out
    assert "cache      DOWN" in out
    assert "broker     ok  none configured: tasks run inline" in out


def test_database_down_exits_non_zero():
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_dead_port()}/nothing",
        "DB_CONNECT_TIMEOUT": "1",
        "DB_POOL_TIMEOUT": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check_services", "--settings=config.settings.test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "database   DOWN" in result.stdout
    assert "Unreachable: database" in result.stderr
