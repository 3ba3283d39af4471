"""DATABASE_REPLICA_URLS: replica aliases like the primary, and a pin that outlasts the lag."""

import runpy
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.foundation.procs import ROOT, production_env


def settings_read(monkeypatch, **env: str) -> dict[str, Any]:
    """config/settings/base.py run afresh with production variables and `env`."""
    for name, value in production_env(**env).items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings" / "base.py"))


def test_each_replica_url_is_an_alias_with_the_primarys_engine_and_options(monkeypatch):
    found = settings_read(
        monkeypatch,
        DATABASE_URL="postgres://app@primary.internal:5432/shop",
        DATABASE_REPLICA_URLS="postgres://app@r1.internal:5433/shop,postgres://app@r2.internal/shop",
        REPLICA_POOL_TIMEOUT="1.5",
    )
    assert found["DATABASE_REPLICAS"] == ["replica1", "replica2"]
    assert found["DATABASE_ROUTERS"] == ["core.replicas.ReplicaRouter"]
    primary, first, second = (found["DATABASES"][a] for a in ("default", "replica1", "replica2"))
    assert (first["HOST"], first["PORT"], second["HOST"]) == ("r1.internal", 5433, "r2.internal")
    assert first["ENGINE"] == primary["ENGINE"] == "core.postgresql"
    assert first["OPTIONS"] == {
        **primary["OPTIONS"],
        "pool": {**primary["OPTIONS"]["pool"], "timeout": 1.5},
    }
    # Tests never create, migrate or flush a replica: it mirrors the primary.
    assert first["TEST"]["MIRROR"] == "default"


def test_without_replica_urls_there_is_only_the_primary(monkeypatch):
    found = settings_read(monkeypatch, DATABASE_REPLICA_URLS="")
    assert (found["DATABASE_REPLICAS"], list(found["DATABASES"])) == ([], ["default"])


def test_a_pin_shorter_than_the_lag_bound_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="REPLICA_PIN_SECONDS must be at least"):
        settings_read(
            monkeypatch,
            DATABASE_REPLICA_URLS="postgres://app@r1.internal/shop",
            REPLICA_PIN_SECONDS="2",
            REPLICA_MAX_LAG_SECONDS="2",
        )
