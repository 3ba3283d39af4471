"""A real streaming replica for these tests (scripts/replica.py), and the app pointed at it.

Once per test process: a primary of its own holding a copy of the test
database (pg_dump), and a hot standby of it made with `pg_basebackup -R`.
For this package's tests Django's `default` connection is moved to that
primary and a `replica1` alias points at the standby, with real, separate
connections (not a TEST MIRROR, which would reuse the primary's). Tests
must be `transaction=True`: rows written inside a test's transaction never
reach a replica. Without PostgreSQL's server binaries the tests are skipped
with the reason, unless REQUIRE_REPLICA=1 (CI), where that is a failure.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings

from core import replicas
from scripts.replica import ReplicaPair, ReplicaUnavailable, problems

ALIAS = "replica1"
# Checked often. The lag bound is generous (a loaded machine replays late);
# the lag test sets a tight one.
TEST_SETTINGS = {
    "DATABASE_REPLICAS": [ALIAS],
    "REPLICA_CHECK_SECONDS": 0.2,
    "REPLICA_MAX_LAG_SECONDS": 5.0,
    "REPLICA_PIN_SECONDS": 10.0,
}


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_REPLICA") == "1":
        pytest.fail(f"REQUIRE_REPLICA=1 but no streaming replica can be made: {reason}")
    pytest.skip(f"no streaming replica can be made here: {reason}")


@pytest.fixture(scope="session")
def replica_pair(django_db_setup, django_db_blocker) -> Iterator[ReplicaPair]:
    found = problems()
    if found:
        _unavailable("; ".join(found))
    from tests.reliability.live import current_database_url

    pair = ReplicaPair()
    try:
        with django_db_blocker.unblock():
            source = current_database_url()
        pair.create(copy_from=source)
    except ReplicaUnavailable as exc:
        pair.destroy()
        _unavailable(str(exc))
    yield pair
    pair.destroy()


def _close(alias: str) -> None:
    connection: Any = connections[alias]
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()


@pytest.fixture(scope="module")
def replicated_app(replica_pair: ReplicaPair, django_db_blocker) -> Iterator[ReplicaPair]:
    """`default` on the pair's primary and `replica1` on its standby, for this module."""
    with django_db_blocker.unblock():
        default = connections["default"]
        saved = {key: default.settings_dict[key] for key in ("HOST", "PORT", "NAME")}
        _close("default")
        default.settings_dict.update(
            HOST="127.0.0.1", PORT=str(replica_pair.primary.port), NAME=replica_pair.dbname
        )
        options = dict(default.settings_dict["OPTIONS"])
        options["pool"] = {**options["pool"], "timeout": 2.0}
        connections.settings[ALIAS] = {
            **default.settings_dict,
            "PORT": str(replica_pair.replica.port),
            "OPTIONS": options,
            # Not flushed after a test (pytest-django flushes every database a test names):
            # it receives the primary's flush.
            "TEST": {**default.settings_dict["TEST"], "MIRROR": "default"},
        }
        with override_settings(**TEST_SETTINGS):
            replicas.forget()
            try:
                yield replica_pair
            finally:
                replicas.forget()
                _close(ALIAS)
                del connections[ALIAS]
                del connections.settings[ALIAS]
                _close("default")
                default.settings_dict.update(saved)


@pytest.fixture
def replica(replicated_app: ReplicaPair, transactional_db) -> Iterator[ReplicaPair]:
    """The standby running, replaying and caught up; check results forgotten."""
    pair = replicated_app
    pair.start_replica()
    pair.replica.execute("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()
    replicas.forget()
    yield pair
    if pair.replica.running():  # a stopped one is started by the next test that needs it
        pair.replica.execute("SELECT pg_wal_replay_resume()")
    replicas.forget()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
