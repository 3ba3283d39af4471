"""The OpenAPI document as the API serves it, built once per test session."""

import functools
from typing import Any

from drf_spectacular.generators import SchemaGenerator


@functools.cache
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operation(path: str, method: str) -> dict[str, Any]:
    return openapi()["paths"][path][method]


def component(ref: dict[str, Any]) -> dict[str, Any]:
    return openapi()["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
