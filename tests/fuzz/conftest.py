from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.live import LiveServer, collect_static, live_server


@pytest.fixture(scope="session")
def live_static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Collected static files (the manifest production's storage needs), once per run."""
    target = tmp_path_factory.mktemp("live-static")
    collect_static(target)
    return target


@pytest.fixture(scope="session")
def server(
    django_db_setup, django_db_blocker, live_static_root, tmp_path_factory
) -> Iterator[LiveServer]:
    """gunicorn with production settings on the test database, shared by the run's modules.

    Tests that write through it use transaction=True (their rows are committed,
    then flushed); its throttles are far above what the tests send.
    """
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with (
        django_db_blocker.unblock(),
        live_server(static_root=live_static_root, log_path=log_path) as live,
    ):
        yield live
