from pathlib import Path

import pytest

from tests.fuzz.conftest import live_static_root  # noqa: F401  (collected static files, once)
from tests.reliability.shop import Shop, make_shop


@pytest.fixture
def shop(transactional_db) -> Shop:
    return make_shop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
