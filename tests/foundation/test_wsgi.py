"""The WSGI entry point and gunicorn's worker-recycling settings."""

import subprocess
import sys

from tests.foundation.procs import ROOT

_PROBE = """
import sys
import config.wsgi
from django.conf import settings
from django.urls import get_resolver
resolver = get_resolver()
assert "url_patterns" in resolver.__dict__, "urlconf not loaded at import"
assert settings.ROOT_URLCONF in sys.modules
assert "drf_spectacular.views" in sys.modules
print("ok")
"""


def test_importing_the_wsgi_app_loads_the_whole_urlconf():
    """Worker boot imports every view, so concurrent first requests never race on imports."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _gunicorn_conf(monkeypatch, **env: str) -> dict:
    for name in (
        "GUNICORN_MAX_REQUESTS",
        "GUNICORN_MAX_REQUESTS_JITTER",
        "GUNICORN_MAX_WORKER_MEMORY_MB",
        "GUNICORN_REUSE_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace: dict = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    return namespace


def test_workers_are_recycled_rarely_with_proportional_jitter(monkeypatch):
    conf = _gunicorn_conf(monkeypatch)
    assert conf["max_requests"] >= 100_000
    assert conf["max_requests_jitter"] == conf["max_requests"] // 10
    conf = _gunicorn_conf(monkeypatch, GUNICORN_MAX_REQUESTS="5000")
    assert conf["max_requests_jitter"] == 500


def test_per_worker_sockets_are_opt_in(monkeypatch):
    assert _gunicorn_conf(monkeypatch)["reuse_port"] is False
    assert _gunicorn_conf(monkeypatch, GUNICORN_REUSE_PORT="1")["reuse_port"] is True
    assert _gunicorn_conf(monkeypatch, GUNICORN_REUSE_PORT="true")["reuse_port"] is True


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, msg: str, *args: object) -> None:
        self.warnings.append(msg % args)


class _Worker:
    def __init__(self, nr: int) -> None:
        self.nr, self.pid, self.alive, self.log = nr, 1, True, _Log()


def test_a_worker_over_the_memory_bound_is_replaced(monkeypatch):
    conf = _gunicorn_conf(monkeypatch, GUNICORN_MAX_WORKER_MEMORY_MB="1")
    assert conf["worker_rss_mb"]() > 1
    skipped = _Worker(nr=257)  # checked every 256 requests only
    conf["post_request"](skipped, None, {}, None)
    assert skipped.alive
    worker = _Worker(nr=512)
    conf["post_request"](worker, None, {}, None)
    assert worker.alive is False
    assert "restarting" in worker.log.warnings[0]


def test_a_worker_under_the_memory_bound_keeps_serving(monkeypatch):
    assert _gunicorn_conf(monkeypatch)["max_worker_memory_mb"] == 140
    conf = _gunicorn_conf(monkeypatch, GUNICORN_MAX_WORKER_MEMORY_MB="100000")
    worker = _Worker(nr=256)
    conf["post_request"](worker, None, {}, None)
    assert worker.alive
