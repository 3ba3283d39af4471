from pathlib import Path

import pytest

from tests.reliability.shop import Shop, make_shop


@pytest.fixture
def shop(transactional_db) -> Shop:
    return make_shop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
