from tests.catalog.conftest import manager, manager_client  # noqa: F401  (fixtures)
