"""Each request has an id (X-Request-ID, taken or made) that every JSON log line carries."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from core.logging import JsonFormatter, RequestIdFilter


@pytest.fixture
def json_log_lines():
    """Capture the request logger through the formatter and filter the settings configure."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("stockroom.request")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


def test_incoming_request_id_is_echoed_and_logged(client, json_log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-42.abc")
    assert response["X-Request-ID"] == "req-42.abc"
    [line] = json_log_lines()
    assert line["request_id"] == "req-42.abc"
    assert line["message"] == "request"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)


def test_request_id_is_made_when_missing(client, json_log_lines):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    assert [line["request_id"] for line in json_log_lines()] == [first, second]


def test_unsafe_request_id_is_replaced(client):
    """A header value is not trusted into logs as is: no spaces, quotes or newlines."""
    response = client.get("/healthz", HTTP_X_REQUEST_ID='x" injected\nline')
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_error_responses_carry_the_request_id_too(api_client):
    response = api_client.get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID="trace-404")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "trace-404"


def test_log_lines_outside_a_request_have_a_placeholder_id():
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "hi %s", ("x",), None)
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hi x"
    assert line["request_id"] == "-"
    assert line["level"] == "WARNING"


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_command_logs_to_stderr_and_keeps_stdout_its_own_output():
    env = {k: v for k, v in os.environ.items() if k not in {"LOG_STREAM", "DJANGO_SETTINGS_MODULE"}}
    code = "import logging; logging.getLogger('stockroom.x').warning('a log line'); print('OUTPUT')"
    done = _manage("shell", "--no-imports", "-c", code, env=env)
    assert done.stdout == "OUTPUT\n"
    [line] = [json.loads(text) for text in done.stderr.splitlines() if text.startswith("{")]
    assert line["message"] == "a log line"


def test_servers_log_to_stdout_unless_told_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "LOG_STREAM"}
    code = (
        "from django.conf import settings; print(settings.LOGGING['handlers']['stdout']['stream'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "ext://sys.stdout"


def test_cache_failures_are_logged_in_one_line_without_a_traceback(settings):
    """With Redis down each cache call logs; a formatted traceback would cost each request."""
    from django.core.cache import caches

    from tests.foundation.procs import free_port

    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("stockroom.cache")
    logger.addHandler(handler)
    try:
        assert caches["default"].get("anything") is None
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["message"] == "Exception ignored"
    assert line["error"].startswith("ConnectionInterrupted: Redis ConnectionError: ")
    assert "exc_info" not in line
