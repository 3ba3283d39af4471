"""Database helpers of the catalog: PostgreSQL-only migration SQL and the category tree."""

from typing import Any

from django.db import migrations
from django.db.models.expressions import RawSQL


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that is skipped on other databases.

    The embedded default runs `migrate` on SQLite, which has no tsvector,
    triggers in PL/pgSQL or pg_trgm: there the search falls back to substring
    matching and needs none of this.
    """

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


# Ids of a category and of all its descendants, in ONE statement however deep
# the tree: a recursive CTE over parent_id. Chosen over a materialised path
# because it needs no denormalised column to keep right when a subtree moves,
# and both PostgreSQL and SQLite run it. UNION (not UNION ALL) stops on a cycle.
_SUBTREE_BY_SLUG_SQL = """
WITH RECURSIVE subtree(id) AS (
    SELECT id FROM catalog_category WHERE slug = %s
    UNION
    SELECT c.id FROM catalog_category c JOIN subtree s ON c.parent_id = s.id
)
SELECT id FROM subtree
"""

_SUBTREE_BY_ID_SQL = _SUBTREE_BY_SLUG_SQL.replace("WHERE slug = %s", "WHERE id = %s")


def category_subtree_ids(*, slug: str | None = None, pk: int | None = None) -> RawSQL:
    """A subquery of the ids of a category (by slug or pk) and all its descendants.

    Use it as `filter(category_id__in=category_subtree_ids(slug=...))`: it adds
    no query of its own.
    """
    if slug is not None:
        return RawSQL(_SUBTREE_BY_SLUG_SQL, [slug])  # noqa: S611  # nosec B611 # constant, bound
    if pk is not None:
        return RawSQL(_SUBTREE_BY_ID_SQL, [pk])  # noqa: S611  # nosec B611 # constant, bound
    raise ValueError("category_subtree_ids needs a slug or a pk.")


# One transaction at a time changes the shape of the category tree. Taken by
# category_update and by the trigger of migration 0009 (same key: keep them in step);
# the two-key form keeps it apart from the one-key locks other modules take.
CATEGORY_TREE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('catalog_category_tree'), 0)"
