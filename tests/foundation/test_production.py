"""Production settings and processes: deploy check, schema, bare checkout, gunicorn.

These start real child processes (manage.py, gunicorn) with their own environment,
because the settings under test are read at import time.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.foundation.procs import PYTHON, ROOT, child_env, free_port, manage, production_env
from tests.foundation.test_containers import dockerfile_cmd


def test_deploy_check_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_flags_the_console_mailer_left_as_default():
    env = production_env()
    env.pop("EMAIL_URL")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    env.pop("DJANGO_SECRET_KEY")
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr
    assert "DJANGO_DEBUG=true .venv/bin/python manage.py" in result.stderr


def test_manage_py_without_a_database_says_how_to_get_one(project_copy):
    """A configured checkout (DJANGO_DEBUG set) without DATABASE_URL, or with another engine's:
    a clear error. (A bare checkout runs on make run's embedded PostgreSQL: test_devdb.)"""
    env = child_env(DJANGO_DEBUG="true")
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    result = manage("check", env=env, cwd=project_copy)
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert "`make run` starts an embedded PostgreSQL" in result.stderr

    result = manage(
        "check", env={**env, "DATABASE_URL": "mysql://root@localhost/stockroom"}, cwd=project_copy
    )
    assert result.returncode != 0
    assert "DATABASE_URL is not a PostgreSQL URL" in result.stderr


def test_a_dotenv_that_configures_the_mode_keeps_production_rules(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("stockroom_manage", ROOT / "manage.py")
    assert spec is not None and spec.loader is not None
    manage_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manage_py)
    dotenv = tmp_path / ".env"
    assert manage_py.development_checkout({}, dotenv)  # no .env at all
    dotenv.write_text("# DJANGO_SECRET_KEY=\nDATABASE_URL=postgres://x/y\n")
    assert manage_py.development_checkout({}, dotenv)  # commented out
    dotenv.write_text("export DJANGO_SECRET_KEY=abc\n")
    assert not manage_py.development_checkout({}, dotenv)
    assert not manage_py.development_checkout({"DJANGO_DEBUG": "false"}, tmp_path / "none")


def test_openapi_schema_validates_without_warnings():
    result = manage(
        "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull, env=production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project tree without local state (no .env, no database folder)."""
    target = tmp_path_factory.mktemp("embedded") / "stockroom"
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".env", ".pgdata", "staticfiles", "__pycache__", "*_cache", "bench"
        ),
    )
    return target


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """gunicorn started with the Dockerfile's command, after collectstatic into a tmp dir."""
    static_root = tmp_path_factory.mktemp("static")
    log_path = tmp_path_factory.mktemp("gunicorn") / "stdout.log"
    port = free_port()
    env = production_env(
        DJANGO_STATIC_ROOT=str(static_root),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    collect = manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
    assert collect.returncode == 0, collect.stderr

    program, *args = dockerfile_cmd()
    assert program == "gunicorn"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.2)
        yield base, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_gunicorn_serves_the_styled_admin_with_debug_off(gunicorn_server):
    base, _ = gunicorn_server
    status, _, body = _get(f"{base}/admin/login/")
    assert status == 200
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body.decode())
    assert stylesheet, "the admin must link the hashed (collected) stylesheet"

    status, headers, css = _get(base + stylesheet.group(1), {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert headers.get("Content-Encoding") == "gzip"
    assert "immutable" in headers["Cache-Control"]
    assert css


@pytest.mark.slow
def test_gunicorn_logs_json_lines_with_the_request_id(gunicorn_server):
    base, log_path = gunicorn_server
    status, headers, _ = _get(f"{base}/healthz", {"X-Request-ID": "gunicorn-test-7"})
    assert status == 200
    assert headers["X-Request-ID"] == "gunicorn-test-7"

    deadline = time.monotonic() + 5
    while True:
        entries = [
            json.loads(line)
            for line in log_path.read_text().splitlines()
            if line.startswith("{") and "gunicorn-test-7" in line
        ]
        if len(entries) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    loggers = {entry["logger"]: entry for entry in entries}
    assert loggers["stockroom.request"]["request_id"] == "gunicorn-test-7"
    assert loggers["gunicorn.access"]["request_id"] == "gunicorn-test-7"
    assert loggers["gunicorn.access"]["status"] == 200
    assert loggers["gunicorn.access"]["path"] == "/healthz"


@pytest.mark.slow
def test_gunicorn_answers_api_errors_as_json(gunicorn_server):
    base, _ = gunicorn_server
    status, headers, body = _get(f"{base}/api/v1/no-such-thing/")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"code": "not_found", "detail": "Not found."}
