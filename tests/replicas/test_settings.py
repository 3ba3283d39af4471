"""DATABASE_REPLICA_URLS: replica aliases like the primary, and a pin that outlasts the lag."""

import json
import subprocess

from tests.foundation.procs import PYTHON, ROOT, production_env

_SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'replicas': s.DATABASE_REPLICAS, 'routers': s.DATABASE_ROUTERS, "
    "'databases': {a: {k: d[k] for k in ('ENGINE', 'HOST', 'PORT', 'NAME', 'OPTIONS', 'TEST')} "
    "for a, d in s.DATABASES.items()}}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-c", _SHOW],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_each_replica_url_is_an_alias_with_the_primarys_engine_and_options():
    shown = _settings(
        DATABASE_URL="postgres://app@primary.internal:5432/shop",
        DATABASE_REPLICA_URLS="postgres://app@r1.internal:5433/shop,postgres://app@r2.internal/shop",
        REPLICA_POOL_TIMEOUT="1.5",
    )
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert found["replicas"] == ["replica1", "replica2"]
    assert found["routers"] == ["core.replicas.ReplicaRouter"]
    primary, first, second = (found["databases"][a] for a in ("default", "replica1", "replica2"))
    assert (first["HOST"], first["PORT"], second["HOST"]) == ("r1.internal", 5433, "r2.internal")
    assert first["ENGINE"] == primary["ENGINE"] == "core.postgresql"
    assert first["OPTIONS"] == {
        **primary["OPTIONS"],
        "pool": {**primary["OPTIONS"]["pool"], "timeout": 1.5},
    }
    # Tests never create, migrate or flush a replica: it mirrors the primary.
    assert first["TEST"]["MIRROR"] == "default"


def test_without_replica_urls_there_is_only_the_primary():
    shown = _settings(DATABASE_REPLICA_URLS="")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert (found["replicas"], list(found["databases"])) == ([], ["default"])


def test_a_pin_shorter_than_the_lag_bound_is_refused():
    shown = _settings(
        DATABASE_REPLICA_URLS="postgres://app@r1.internal/shop",
        REPLICA_PIN_SECONDS="2",
        REPLICA_MAX_LAG_SECONDS="2",
    )
    assert shown.returncode != 0
    assert "REPLICA_PIN_SECONDS must be at least" in shown.stderr
