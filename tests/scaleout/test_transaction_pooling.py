"""DB_TRANSACTION_POOLING: nothing outlives a transaction (PgBouncer in transaction mode)."""

import json

from tests.foundation.procs import manage, production_env
from tests.reliability.live import current_database_url

# Run in a production-configured process: the settings, then a live connection.
_PROBE = """
import json
from django.db import connection
from catalog.models import Variant
connection.ensure_connection()
with connection.cursor() as cursor:
    cursor.execute("SELECT word_similarity('a', 'a')")  # loads pg_trgm, and its settings
    cursor.execute("SHOW pg_trgm.word_similarity_threshold")
    threshold = cursor.fetchone()[0]
queries = []
def record(execute, sql, params, many, context):
    queries.append(sql)
    return execute(sql, params, many, context)
with connection.execute_wrapper(record):
    list(Variant.objects.all().iterator(chunk_size=10))
print(json.dumps({
    "server_side_cursors": not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False),
    "prepare_threshold": connection.connection.prepare_threshold,
    "startup_options": connection.settings_dict["OPTIONS"].get("options"),
    "server_side_binding": connection.settings_dict["OPTIONS"].get("server_side_binding"),
    "threshold": threshold,
    "declared_cursor": any("DECLARE" in sql.upper() for sql in queries),
}))
"""


def probe(db, **env: str) -> dict[str, object]:
    result = manage(
        "shell",
        "-c",
        _PROBE,
        env=production_env(DATABASE_URL=current_database_url(), LOG_LEVEL="ERROR", **env),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_by_default_a_connection_keeps_session_features(db):
    found = probe(db)

    assert found["server_side_cursors"] is True
    # Never prepared statements: Django binds parameters client-side and sets no threshold.
    assert found["prepare_threshold"] is None
    assert found["server_side_binding"] is None
    assert found["startup_options"] == "-c pg_trgm.word_similarity_threshold=0.35"
    assert found["threshold"] == "0.35"


def test_behind_a_transaction_pooler_nothing_outlives_a_transaction(db):
    found = probe(db, DB_TRANSACTION_POOLING="true")

    assert found["server_side_cursors"] is False
    assert found["declared_cursor"] is False  # .iterator() fetches with a plain cursor
    assert found["prepare_threshold"] is None
    assert found["startup_options"] is None  # PgBouncer refuses unknown startup parameters
    assert found["threshold"] == "0.6"  # pg_trgm's default: set it on the database instead
