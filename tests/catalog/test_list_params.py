"""The list's query parameters: the direct reading agrees with ProductListParamsSerializer."""

import itertools

import pytest
from rest_framework.exceptions import ValidationError

from catalog.api.serializers import ProductListParamsSerializer, product_list_params

VALUES = {
    "search": [
        "",
        "  ",
        "hoodie",
        " two words ",
        "x" * 200,
        "x" * 201,
        " " + "y" * 200 + " ",
        "a\x00b",
        "\ud800",
        "'\"&|!",
        "ünïcode",
    ],
    "category": [
        "",
        " ",
        "shirts",
        " shirts ",
        "not a slug",
        "s" * 220,
        "s" * 221,
        "ünï",
        "a/b",
        "٣",
    ],
    "min_price": [
        "",
        " ",
        "0",
        "10",
        "10.5",
        "10.50",
        "10.555",
        " 10 ",
        "-1",
        "1e3",
        "NaN",
        "12345678901",
        "1234567890",
        "0010",
        "1.",
        ".5",
        "٣",
        "cheap",
        "Infinity",
    ],
    "max_price": ["7", "-0", "99999999999.99"],
    "in_stock": [
        "",
        "true",
        "True",
        "TRUE",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "off",
        "null",
        "Null",
        "maybe",
        " true",
        "2",
    ],
    "ordering": [
        "",
        "price",
        "-price",
        "name",
        "-name",
        "created_at",
        "-created_at",
        " price",
        "Price",
        "stock",
    ],
    "page": ["2"],
    "other": ["x"],
}


def _serializer(query):
    params = ProductListParamsSerializer(data=query)
    if params.is_valid():
        return ("valid", dict(params.validated_data))
    return ("invalid", params.errors)


def _direct(query):
    try:
        return ("valid", product_list_params(query))
    except ValidationError as exc:
        return ("invalid", exc.detail)


CASES = [{name: value} for name, values in VALUES.items() for value in values]
CASES += [
    {"search": s, "category": c, "min_price": lo, "in_stock": i, "ordering": o}
    for s, c, lo, i, o in itertools.product(
        ["", "lamp"], ["shirts", "bad slug"], ["5", "x"], ["true", "maybe"], ["name", "nope"]
    )
]


@pytest.mark.parametrize("query", CASES, ids=repr)
def test_direct_reading_equals_the_serializer(query):
    expected = _serializer(query)
    got = _direct(query)
    assert got == expected
    if got[0] == "valid":  # the same types too (Decimal places, bool, None)
        assert [(k, type(v), str(v)) for k, v in sorted(got[1].items())] == [
            (k, type(v), str(v)) for k, v in sorted(expected[1].items())
        ]
