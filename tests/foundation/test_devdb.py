"""`make run`'s embedded PostgreSQL (scripts/devdb.py): starts, keeps its data, stops.

Each test runs its own server on a data folder of its own (a Unix socket in
that folder, no TCP port), never the machine's PostgreSQL.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from scripts import devdb
from tests.foundation.procs import PYTHON, ROOT, child_env

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A folder of its own, outside pytest's: as root the server runs as another user,
    who must be able to reach it, and pytest makes its own temp root private again
    whenever a pytest session starts."""
    parent = Path(tempfile.mkdtemp(prefix="stockroom-devdb-"))
    try:
        yield parent / "pgdata"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _connect(server: devdb.EmbeddedServer) -> psycopg.Connection:
    return psycopg.connect(server.url().replace("postgres://", "postgresql://"), autocommit=True)


def test_embedded_server_has_pg_trgm_keeps_its_data_and_stops(data_dir: Path):
    server = devdb.start(data_dir)
    try:
        pid = _postmaster_pid(data_dir)
        with _connect(server) as connection:
            version = connection.execute("SHOW server_version_num").fetchone()
            connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            similar = connection.execute(
                "SELECT word_similarity('hodie', 'Oak hoodie') > 0.35"
            ).fetchone()
            connection.execute("CREATE TABLE kept (note text)")
            connection.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        server.stop()
    assert version is not None and int(version[0]) >= 180000
    assert similar == (True,)
    assert pid is not None and not _running(pid)
    assert _postmaster_pid(data_dir) is None

    again = devdb.start(data_dir)
    try:
        with _connect(again) as connection:
            assert connection.execute("SELECT note FROM kept").fetchall() == [("still here",)]
    finally:
        again.stop()


def _launcher(
    data_dir: Path, *command: str, ignore_sigint: bool = False, **env: str
) -> subprocess.Popen[str]:
    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [PYTHON, "scripts/devdb.py", "--data-dir", str(data_dir), "exec", "--", *command],
        cwd=ROOT,
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,
    )


DEMO = """
import json, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from catalog.models import Product
call_command("migrate", "--noinput", verbosity=0)
call_command("demo_setup", verbosity=0)
product = Product.objects.filter(is_published=True, name__iregex=r"[a-z]{6,}$").first()
word = product.name.split()[-1]
typo = word[:2] + word[3:]
client = Client(HTTP_HOST="localhost")
found = client.get("/api/v1/products/", {"search": typo, "page_size": 100}).json()
print(json.dumps({
    "ready": client.get("/readyz").json(),
    "login_status": client.get("/" + settings.ADMIN_URL + "login/").status_code,
    "cache": settings.CACHES["default"]["BACKEND"],
    "typo_finds_it": product.slug in [item["slug"] for item in found["results"]],
    "typo": typo,
}))
"""


def test_the_launcher_runs_the_demo_on_the_embedded_server_and_stops_it(data_dir: Path):
    """What `make run` does, without REDIS_URL: the admin, and the real search (a typo)."""
    launcher = _launcher(
        data_dir,
        PYTHON,
        "-c",
        DEMO,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_DEBUG="true",
    )
    stdout, stderr = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, stdout + stderr
    (line,) = [line for line in stdout.splitlines() if line.startswith('{"ready"')]
    report = json.loads(line)
    assert report == {
        "ready": {"status": "ok", "checks": {"database": "ok", "cache": "ok"}},
        "login_status": 200,
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "typo_finds_it": True,
        "typo": report["typo"],
    }
    # What the launcher says goes to stderr: stdout is the commands' own.
    assert stderr.strip().endswith("Embedded PostgreSQL stopped.")
    assert "Embedded PostgreSQL" not in stdout
    assert _postmaster_pid(data_dir) is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_launcher_stops_its_command_and_the_server(data_dir: Path, signum):
    """Ctrl-C (SIGINT) or SIGTERM; SIGINT also when inherited as ignored (a background job)."""
    wait = "import os, time; print(os.environ['DATABASE_URL'], flush=True); time.sleep(120)"
    launcher = _launcher(data_dir, PYTHON, "-c", wait, ignore_sigint=True)
    assert launcher.stdout is not None
    line = launcher.stdout.readline()
    assert line.startswith("postgres://postgres@/stockroom?host="), line
    pid = _postmaster_pid(data_dir)
    assert pid is not None and _running(pid)

    os.kill(launcher.pid, signum)
    launcher.wait(timeout=30)

    assert launcher.returncode == 128 + signum
    assert not _running(pid)
    assert _postmaster_pid(data_dir) is None


def _bare_checkout_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in child_env().items()
        if key
        not in {"DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    return {**env, "DEVDB_DATA_DIR": str(data_dir)}


HOST_OF_THE_DATABASE = (
    "from django.db import connection; cursor = connection.cursor(); "
    "cursor.execute('SHOW data_directory'); print(cursor.fetchone()[0])"
)


def test_manage_py_on_a_bare_checkout_runs_on_the_embedded_database_and_stops_it(data_dir: Path):
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "--no-imports", "-c", HOST_OF_THE_DATABASE],
        cwd=ROOT,
        env=_bare_checkout_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # stdout is the command's own output only; the server it started is stopped.
    assert done.stdout.strip() == str(data_dir.resolve())
    assert _postmaster_pid(data_dir) is None


def test_manage_py_leaves_a_running_embedded_server_running(data_dir: Path):
    server = devdb.start(data_dir)
    try:
        pid = _postmaster_pid(data_dir)
        subprocess.run(
            [PYTHON, "manage.py", "shell", "--no-imports", "-c", HOST_OF_THE_DATABASE],
            cwd=ROOT,
            env=_bare_checkout_env(data_dir),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert pid is not None and _running(pid)
    finally:
        server.stop()
