"""The product listing is declared once; domain code stays apart from the API."""

import ast
from pathlib import Path

from catalog.api import response_cache
from catalog.api.serializers import (
    ProductDetailSerializer,
    ProductListItemSerializer,
    VariantPublicSerializer,
)
from catalog.listing import PRODUCT_FIELDS, VARIANT_FIELDS, Field, GenerationMemo

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
DOMAIN = [
    CATALOG / "models.py",
    CATALOG / "services.py",
    CATALOG / "selectors.py",
    CATALOG / "cache.py",
    CATALOG / "db.py",
    *sorted((CATALOG / "listing").glob("*.py")),
]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_catalog_domain_modules_import_nothing_under_an_api_package():
    offending = {
        path.name: sorted(name for name in _imports(path) if "api" in name.split("."))
        for path in DOMAIN
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_no_catalog_module_switches_behaviour_through_a_context_variable():
    modules = sorted(CATALOG.rglob("*.py"))
    assert [p.name for p in modules if "contextvars" in _imports(p)] == []


def test_the_schema_describes_every_declared_field_in_order():
    list_fields = [f.name for f in PRODUCT_FIELDS if not f.detail]
    assert list(ProductListItemSerializer().fields) == list_fields
    assert list(ProductDetailSerializer().fields) == [
        *list_fields,
        *(f.name for f in PRODUCT_FIELDS if f.detail),
    ]
    assert list(VariantPublicSerializer().fields) == [f.name for f in VARIANT_FIELDS]


def test_a_new_declared_field_gives_cached_bodies_a_new_format():
    fields = (*PRODUCT_FIELDS, *VARIANT_FIELDS)
    assert response_cache.body_format(fields) == response_cache.FORMAT
    added = (*PRODUCT_FIELDS, Field("weight", "p.weight", "integer"), *VARIANT_FIELDS)
    assert response_cache.body_format(added) != response_cache.FORMAT


def test_a_memo_keeps_a_value_for_its_generation_only():
    memo = GenerationMemo()
    computed: list[int] = []

    def compute(value: int):
        def run() -> int:
            computed.append(value)
            return value

        return run

    assert memo.at(1).get(scope="count", parts="a", compute=compute(1)) == 1
    assert memo.at(1).get(scope="count", parts="a", compute=compute(99)) == 1
    assert memo.at(2).get(scope="count", parts="a", compute=compute(2)) == 2
    # An answer still being built at an older generation computes, and keeps nothing.
    assert memo.at(1).get(scope="count", parts="a", compute=compute(3)) == 3
    assert memo.at(2).get(scope="count", parts="a", compute=compute(99)) == 2
    assert computed == [1, 2, 3]


def test_memo_ticks_restart_with_each_generation():
    memo = GenerationMemo()
    assert [memo.at(5).tick(scope="r") for _ in range(3)] == [1, 2, 3]
    assert memo.at(6).tick(scope="r") == 1
    assert memo.at(5).tick(scope="r") == 1  # older: counted nowhere
    assert memo.at(6).tick(scope="r") == 2
