"""Behind every filter, sortable column and search of the big list pages there is an index.

Read from the models' declared indexes, unique fields and constraints, and
foreign keys: a new filter or sortable column without an index fails here,
before it makes a 200,000-row table scan in production.
"""

import uuid
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.test import RequestFactory

from accounts.models import User
from catalog.models import Category, Product, StockMovement, Variant
from orders.models import Order
from tests.admin.plans import plan_with_indexes_only, whole_table_reads
from webhooks.models import Delivery, Event

BIG_TABLES = [User, Category, Product, Variant, StockMovement, Order, Event, Delivery]


# Categories number in the hundreds: their tree order is computed per row (a CTE),
# and the list is shown in that order (CategoryTreeChangeList), not by position.
EXEMPT = {(Category, "tree_path"), (Category, "position")}


def _indexed(model: type[models.Model]) -> tuple[set[str], set[str]]:
    """(fields leading an index: served for filtering and sorting,
    fields only in a partial index's condition: served for filtering)."""
    leading: set[str] = {model._meta.pk.name}
    conditions: set[str] = set()
    for index in model._meta.indexes:
        if index.fields:
            leading.add(index.fields[0].lstrip("-"))
        if index.condition is not None:
            conditions |= {
                child[0].split("__")[0]
                for child in index.condition.children
                if isinstance(child, tuple)
            }
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            leading.add(constraint.fields[0])
    for field in model._meta.get_fields():
        if isinstance(field, models.ManyToManyField):
            conditions.add(field.name)  # the through table indexes both sides
        elif isinstance(field, models.Field) and (
            field.unique or getattr(field, "db_index", False)
        ):
            leading.add(field.name)  # foreign keys are db_index by default
    return leading, conditions


def _sort_field(model_admin: admin.ModelAdmin, column: Any) -> str | None:
    """The field a list_display column sorts by (None: not sortable)."""
    try:
        field = model_admin.model._meta.get_field(column)
    except FieldDoesNotExist:  # a method or an annotation
        attribute = getattr(model_admin, column, None) or getattr(model_admin.model, column, None)
        ordering = getattr(attribute, "admin_order_field", None)
        return ordering.lstrip("-") if isinstance(ordering, str) else None
    if field.is_relation:
        # Sorting by a foreign key sorts by the related model's ordering: a join.
        return f"{column}__(related ordering)"
    return column


def _offered(model: type[models.Model]) -> list[tuple[str, str, bool]]:
    """[(field path, where it is offered, whether it sorts)] for the model's change list."""
    model_admin = admin.site._registry[model]
    request: Any = RequestFactory().get("/")
    offered: list[tuple[str, str, bool]] = []
    ordering: Any = model_admin.ordering or model._meta.ordering
    first = str(ordering[0]).lstrip("-")
    first = next((f.name for f in model._meta.concrete_fields if f.attname == first), first)
    offered.append((first, "default ordering", True))
    for entry in model_admin.list_filter:
        name = entry if isinstance(entry, str) else entry[0] if isinstance(entry, tuple) else None
        if name is not None:  # SimpleListFilter subclasses are checked by their own tests
            offered.append((str(name), "list_filter", False))
    if model_admin.date_hierarchy:
        offered.append((model_admin.date_hierarchy, "date_hierarchy", True))
    sortable = model_admin.get_sortable_by(request)
    for column in model_admin.list_display:
        if column in sortable and column != "__str__":
            field = _sort_field(model_admin, column)
            if field is not None:
                offered.append((field, f"sortable column {column}", True))
    return offered


@pytest.mark.parametrize("model", BIG_TABLES, ids=lambda m: m.__name__)
def test_every_filter_and_sortable_column_has_an_index(model):
    leading, conditions = _indexed(model)
    missing = {
        path: where
        for path, where, sorts in _offered(model)
        if (model, path) not in EXEMPT
        and ("__" in path or path not in (leading if sorts else leading | conditions))
    }
    assert not missing, f"{model.__name__}: no index leads with {missing}"


# Categories number in the hundreds (see EXEMPT): Django's own search reads them all.
SEARCH_EXEMPT = {Category}
# Words of each kind staff type: a name or email fragment, an email with @,
# a SKU prefix, an order number, a number, an event id.
SEARCH_SAMPLES = ["ateliers", "oakes@atel", "HOOD-R", "SR-7KQ2", "42", str(uuid.UUID(int=7))]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    [m for m in BIG_TABLES if m not in SEARCH_EXEMPT and admin.site._registry[m].search_fields],
    ids=lambda m: m.__name__,
)
def test_every_search_of_a_big_table_can_be_served_by_indexes(model, superuser):
    """Each kind of word staff type, with whole-table reads priced out: the plan
    reads no big table from end to end (a new search field without an index fails)."""
    model_admin = admin.site._registry[model]
    big = {m._meta.db_table for m in BIG_TABLES}
    for term in SEARCH_SAMPLES:
        request: Any = RequestFactory().get("/", {"q": term})
        request.user = superuser
        queryset, use_distinct = model_admin.get_search_results(
            request, model_admin.get_queryset(request), term
        )
        assert not use_distinct, f"{model.__name__}: DISTINCT over the search's join"
        plan = plan_with_indexes_only(queryset)
        reads = whole_table_reads(plan, big)
        assert not reads, f"{model.__name__} search {term!r} reads whole tables:\n{plan}"
