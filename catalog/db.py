"""Database helpers of the catalog: columns kept by triggers, and the category tree."""

from typing import Any, cast

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F
from django.db.models.expressions import DatabaseDefault, RawSQL


class TriggerKept:
    """A column that database triggers keep: Django reads it and never writes it.

    `save()` inserts a row with the column's database default (`db_default`)
    and updates a row by setting the column to itself, so a stale instance
    (the admin saves every field) cannot overwrite what a trigger wrote; either
    way the stored value is read back into the instance (RETURNING). Not in
    forms (`editable=False`). `QuerySet.update()` and `bulk_update()` write
    what they are given: never give them these fields.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        field = cast("models.Field[Any, Any]", self)
        if add:
            default = field.get_default()
            assert isinstance(default, DatabaseDefault), f"{field} needs a db_default"
            return default
        return F(field.attname)


class TriggerKeptBooleanField(TriggerKept, models.BooleanField):
    pass


class TriggerKeptDecimalField(TriggerKept, models.DecimalField):
    pass


class TriggerKeptSearchVectorField(TriggerKept, SearchVectorField):
    pass


# Ids of a category and of all its descendants, in ONE statement however deep
# the tree: a recursive CTE over parent_id. Chosen over a materialised path
# because it needs no denormalised column to keep right when a subtree moves.
# UNION (not UNION ALL) stops on a cycle.
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
