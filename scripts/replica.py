#!/usr/bin/env python
"""A PostgreSQL primary with a streaming read replica, on this machine, for tests and CI.

    python scripts/replica.py check                # can a pair be made here? (exit 0/1)
    python scripts/replica.py run [--copy URL]     # make one, print its URLs, keep it until Ctrl-C

`ReplicaPair` (what tests/replicas uses) makes

* a primary: a cluster of its own (initdb in a temporary directory, a free
  port) with `wal_level=replica`, `max_wal_senders` and a `replication`
  line for 127.0.0.1 in its pg_hba.conf, into which a database is copied
  (pg_dump of the test database, schema and rows);
* a replica of it: `pg_basebackup -R` (which writes standby.signal and
  primary_conninfo), started as a hot standby on another free port, and
  waited for until it streams.

Why not a replica of the shared test server (127.0.0.1:5432): pg_basebackup
copies a whole cluster, every database of everyone on the machine, which
took 20 to 35 s here and grows with them; a primary of its own holds one
small database, copies in a second or two, and may be paused or stopped
without touching anyone else's server. Each process makes its own pair
(unique directories and ports), so parallel test processes never pause or
stop each other's replica. As root, the clusters run as the `postgres`
system user (PostgreSQL refuses root).

Importing this module needs only the standard library; `ReplicaPair` also
uses psycopg.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ReplicaUnavailable(RuntimeError):
    """A pair cannot be made here; the message says what is missing."""


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    if found:
        return found[-1].parent
    which = shutil.which("pg_basebackup")
    if which:
        return Path(which).parent
    raise ReplicaUnavailable("no PostgreSQL server binaries (initdb, pg_basebackup) here")


def problems() -> list[str]:
    """What keeps a pair from being made on this machine (empty: nothing)."""
    try:
        binaries = pg_bin()
    except ReplicaUnavailable as exc:
        return [str(exc)]
    found = [
        f"{name} is missing from {binaries}"
        for name in ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql")
        if not (binaries / name).exists()
    ]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        found.append("running as root needs runuser to start PostgreSQL as `postgres`")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connect(url: str) -> Any:
    import psycopg

    parsed = urlsplit(url)
    return psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        dbname=(parsed.path or "/postgres").lstrip("/") or "postgres",
        connect_timeout=5,
        autocommit=True,
    )


class Cluster:
    """One PostgreSQL cluster in a temporary directory, on a free port of 127.0.0.1."""

    def __init__(self, *, name: str) -> None:
        self.bin = pg_bin()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"stockroom-{name}-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def run(self, *args: str, timeout: float = 120, as_owner: bool = True) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if as_owner and os.geteuid() == 0 else []
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, our arguments
            [*prefix, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
        )
        if result.returncode != 0:
            raise ReplicaUnavailable(f"{Path(args[0]).name} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def configure(self, settings: dict[str, str], hba: str) -> None:
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write("".join(f"{name} = '{value}'\n" for name, value in settings.items()))
        (self.data / "pg_hba.conf").write_text(hba)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        )
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.log_path), "-w", "-t", "60", "start",
        )  # fmt: skip

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        if self.running():
            self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def execute(self, sql: str, params: tuple[Any, ...] = (), dbname: str = "postgres") -> Any:
        """Run `sql` here; its first row (None for a statement without rows)."""
        with _connect(self.url(dbname)) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def destroy(self) -> None:
        with contextlib.suppress(ReplicaUnavailable, subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
_FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ReplicaPair:
    """A primary holding a copy of one database, and a hot standby streaming from it."""

    def __init__(self) -> None:
        self.primary = Cluster(name="primary")
        self.replica = Cluster(name="replica")
        self.dbname = "stockroom"

    @property
    def primary_url(self) -> str:
        return self.primary.url(self.dbname)

    @property
    def replica_url(self) -> str:
        return self.replica.url(self.dbname)

    def create(self, *, copy_from: str | None = None, dbname: str = "stockroom") -> "ReplicaPair":
        """Start the primary, copy `copy_from` (a database URL) into it, then make the replica."""
        found = problems()
        if found:
            raise ReplicaUnavailable("; ".join(found))
        self.dbname = dbname
        primary, replica = self.primary, self.replica
        primary.run(
            str(primary.bin / "initdb"), "-D", str(primary.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        primary.configure(
            {"wal_level": "replica", "max_wal_senders": "4", "wal_keep_size": "256MB", **_FAST},
            _HBA + "host replication all 127.0.0.1/32 trust\n",
        )
        primary.start()
        primary.execute(f'CREATE DATABASE "{dbname}"')
        if copy_from is not None:
            dump = subprocess.run(  # noqa: S603 - pg_dump of the URL our caller gave
                [str(primary.bin / "pg_dump"), "--no-owner", "--no-privileges", copy_from],
                capture_output=True, check=True, timeout=120,
                env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
            )  # fmt: skip
            subprocess.run(  # noqa: S603 - psql into the primary we made
                [str(primary.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.primary_url],
                input=dump.stdout, capture_output=True, check=True, timeout=120,
            )  # fmt: skip
        replica.run(
            str(replica.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", str(replica.data), "-R", "-X", "stream",
            "--checkpoint=fast", "--no-sync", "--no-manifest",
        )  # fmt: skip
        # The tests pause replay and read on: reads must not be cancelled meanwhile.
        replica.configure(
            {
                "hot_standby": "on",
                "max_standby_streaming_delay": "-1",
                "wal_receiver_status_interval": "1s",
            },
            _HBA,
        )
        replica.start()
        self.wait_streaming()
        return self

    def stop_replica(self) -> None:
        """Stop the replica at a restartpoint of everything so far, so that it restarts at once."""
        self.primary.execute("CHECKPOINT")
        self.wait_replayed()
        self.replica.execute("CHECKPOINT")
        self.replica.stop()

    def start_replica(self) -> None:
        if not self.replica.running():
            self.replica.start()
            self.wait_streaming()

    def wait_streaming(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                row = self.replica.execute("SELECT status FROM pg_stat_wal_receiver")
                if row is not None and row[0] == "streaming":
                    return
            if time.monotonic() > deadline:
                log = self.replica.log()[-2000:]
                raise ReplicaUnavailable(f"the replica never streamed:\n{log}")
            time.sleep(0.1)

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        (target,) = self.primary.execute("SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + timeout
        while True:
            (behind,) = self.replica.execute(
                "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0", (target,)
            )
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the replica did not catch up")
            time.sleep(0.02)

    def destroy(self) -> None:
        self.replica.destroy()
        self.primary.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["check", "run"])
    parser.add_argument("--copy", help="a database URL to copy into the primary")
    args = parser.parse_args(argv)
    found = problems()
    for problem in found:
        print(f"replica: {problem}", file=sys.stderr)
    if found or args.command == "check":
        if not found:
            print("replica: a primary and a streaming replica can be made here")
        return 1 if found else 0
    pair = ReplicaPair()
    try:
        pair.create(copy_from=args.copy)
        print(f"DATABASE_URL={pair.primary_url}")
        print(f"DATABASE_REPLICA_URLS={pair.replica_url}", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        pair.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
