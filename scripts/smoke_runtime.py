"""`make smoke-runtime`: the image's install, run as compose runs it, driven over HTTP.

1. A throwaway virtualenv gets `requirements.txt` alone, with the pip command the
   Dockerfile runs, then `pip check`. It is cached under .smoke/ by a hash of
   everything that decides its contents, so reruns skip the install.
2. With production settings, on its own PostgreSQL database (dropped and created
   each run) and Redis databases (flushed each run), that virtualenv runs the
   Dockerfile's collectstatic and compose.yaml's migrate, web, worker and beat
   commands, read from those files so that they cannot drift apart.
3. This process (outside that virtualenv: it imports nothing from it) drives one
   journey over HTTP: register, password reset, place an order, pay it with the
   signed payment webhook, and receive the signed outgoing webhook.

Every process it starts is stopped on the way out, whatever happened. Run it
from the checkout with the development virtualenv's Python (it needs PyYAML,
psycopg and redis): `.venv/bin/python -m scripts.smoke_runtime --help`.
"""

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from scripts.image_recipe import IMAGE_VENV, ImageRecipe, compose_commands, image_recipe
from scripts.smoke_journey import (
    Client,
    Processes,
    Receiver,
    SmokeFailure,
    journey,
    tail,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".smoke"
# Test tools that must not be installed by requirements.txt.
TEST_TOOLS = ("pytest", "pytest_django", "hypothesis", "schemathesis")


# --- The throwaway virtualenv -----------------------------------------------------


def venv_key(recipe_source: str, python: str) -> str:
    """Hash of what decides the venv's contents: requirements, pip line, interpreter."""
    version = subprocess.run(  # noqa: S603 - the interpreter the caller chose
        [python, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    digest = hashlib.sha256()
    for part in ((ROOT / "requirements.txt").read_text(), recipe_source, version):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def runtime_venv(python: str, log: Callable[[str], None]) -> tuple[Path, ImageRecipe]:
    """The cached venv for today's requirements.txt, built (then `pip check`ed) if absent."""
    probe = image_recipe(venv=Path(IMAGE_VENV), python=python)
    key = venv_key(json.dumps([probe.venv_create, probe.pip_install, probe.build_env]), python)
    venv = CACHE / f"venv-{key}"
    recipe = image_recipe(venv=venv, python=python)
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        for stale in CACHE.glob("venv-*"):
            shutil.rmtree(stale, ignore_errors=True)
        CACHE.mkdir(exist_ok=True)
        log(f"building {venv.relative_to(ROOT)}: {shlex.join(recipe.pip_install)}")
        env = os.environ | recipe.build_env
        for key_name in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"):
            env.pop(key_name, None)
        run(recipe.venv_create, env=env, timeout=120)
        run(recipe.pip_install, env=env, timeout=600)
        (venv / ".complete").touch()
    else:
        log(f"reusing {venv.relative_to(ROOT)} (same requirements.txt and pip line)")
    run([str(venv / "bin" / "pip"), "check"], timeout=120)
    found = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util, sys; "
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *TEST_TOOLS,
        ],
        timeout=60,
    ).stdout.split()
    if found:
        raise SmokeFailure(f"requirements.txt installs test tools: {', '.join(found)}")
    return venv, recipe


def run(
    command: list[str], *, env: dict[str, str] | None = None, timeout: float, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - commands from our Dockerfile and compose.yaml
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SmokeFailure(
            f"{shlex.join(command)} exited {result.returncode}:\n"
            f"{tail(result.stdout + result.stderr)}"
        )
    return result


# --- Services: PostgreSQL, Redis -------------------------------------------------


def database_recreate(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SmokeFailure(f"refusing an unusual database name: {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


def redis_flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    client.flushdb()
    client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3.13", help="the image's interpreter")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SMOKE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom_smoke_rt"
        ),
        help="dropped and created each run",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="the cache's Redis database, flushed each run",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("SMOKE_BROKER_URL", "redis://127.0.0.1:6379/3"),
        help="Celery's Redis database, flushed each run",
    )
    args = parser.parse_args()
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[smoke-runtime {time.monotonic() - started:5.1f}s] {message}", flush=True)

    python = shutil.which(args.python) or args.python
    workdir = Path(tempfile.mkdtemp(prefix="stockroom-smoke-"))
    processes = Processes(workdir=workdir)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        venv, recipe = runtime_venv(python, log)
        log("pip check: no broken requirements; no test tools installed")
        mail = workdir / "mail"
        mail.mkdir()
        port = free_port()
        payment_secret = secrets.token_urlsafe(32)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "GUNICORN_", "PYTHON"))
            and key not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"}
        }
        env |= recipe.runtime_env | {
            "PATH": recipe.runtime_env.get("PATH", "").replace("$PATH", os.environ["PATH"]),
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.broker_url,
            "EMAIL_URL": f"filemail://{mail}",
            "PAYMENT_WEBHOOK_SECRET": payment_secret,
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "PORT": str(port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "WORKER_CONCURRENCY": "2",
        }
        if not env["PATH"].startswith(str(venv / "bin")):
            raise SmokeFailure(f"the Dockerfile's PATH does not start with the venv: {env['PATH']}")
        commands = compose_commands(env)

        database_recreate(args.database_url)
        redis_flush(args.redis_url)
        redis_flush(args.broker_url)
        log(f"database {urlsplit(args.database_url).path.lstrip('/')} re-created, Redis flushed")
        # Independent steps (the image runs collectstatic at build time): side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            steps = [
                pool.submit(run, recipe.collectstatic, env=env, timeout=180),
                pool.submit(run, commands["migrate"], env=env, timeout=180),
            ]
            for step in steps:
                step.result()
        log(f"{shlex.join(recipe.collectstatic)}; {shlex.join(commands['migrate'])}: done")
        staff = (f"staff-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16))
        run(
            ["python", "manage.py", "createsuperuser", "--noinput", "--email", staff[0]],
            env=env | {"DJANGO_SUPERUSER_PASSWORD": staff[1]},
            timeout=60,
        )

        web = processes.start("web", commands["web"], env)
        worker = processes.start("worker", commands["worker"], env)
        beat = processes.start("beat", commands["beat"], env)
        client = Client(f"http://127.0.0.1:{port}")

        def healthy() -> bool | None:
            try:
                return client.call("GET", "/readyz").status == 200 or None
            except OSError:
                return None

        wait_for("gunicorn to answer /readyz", healthy, 60, processes)
        wait_for(
            "the worker to be ready",
            lambda: " ready." in worker.output() or None,
            60,
            processes,
        )
        wait_for("beat to start", lambda: "beat: Starting" in beat.output() or None, 60, processes)
        log(f"web ({web.popen.pid}), worker ({worker.popen.pid}), beat ({beat.popen.pid}) up")

        receiver = Receiver()
        with receiver.serving() as receiver_url:
            journey(
                client=client,
                mail=mail,
                receiver=receiver,
                receiver_url=receiver_url,
                staff=staff,
                payment_secret=payment_secret,
                processes=processes,
                log=log,
            )
        processes.check_alive()
        for process in processes.started:
            if "Traceback" in process.output():
                raise SmokeFailure(f"{process.name} logged an error:\n{tail(process.output())}")
    except SmokeFailure as failure:
        log(f"FAILED: {failure}")
        return 1
    finally:
        processes.stop()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)
    log("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
