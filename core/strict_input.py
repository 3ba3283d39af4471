"""JSON input types are what the schema says: a number is not a string, 0 is not false.

DRF coerces scalars on input: `{"last_name": 0}` is stored as "0" and
`{"is_published": 0}` as False, although the OpenAPI schema (and clients
generated from it) say string and boolean. Schemathesis sends such bodies and
rightly expects a 400. Query strings are always text, so text values stay
accepted everywhere (`?in_stock=true`); only a JSON number or boolean where
text is expected, a number where a boolean is expected, or a JSON number where
a decimal string is expected (money and rates are decimal strings, and a
float would carry binary rounding), is refused, with the field's usual
`invalid` error. A relation (a slug or id naming another
object) given as "" is refused as blank instead of read as null, a slug given
as a number is refused instead of looked up as text, and one
containing a NUL character is refused before PostgreSQL sees it.
"""

from typing import Any

from rest_framework import fields, relations
from rest_framework.exceptions import ValidationError

_installed = False


def strict_input_install() -> None:
    """Patch DRF's CharField, BooleanField, DecimalField and RelatedField once (at ready())."""
    global _installed
    if _installed:
        return
    _installed = True
    char_to_internal = fields.CharField.to_internal_value
    bool_to_internal = fields.BooleanField.to_internal_value
    related_run_validation = relations.RelatedField.run_validation
    decimal_to_internal = fields.DecimalField.to_internal_value

    def char_strict(self: fields.CharField, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return char_to_internal(self, data)

    def bool_strict(self: fields.BooleanField, data: Any) -> bool:
        if isinstance(data, int | float) and not isinstance(data, bool):
            self.fail("invalid")
        return bool_to_internal(self, data)

    def decimal_strict(self: fields.DecimalField, data: Any) -> Any:
        if isinstance(data, int | float):
            self.fail("invalid")
        return decimal_to_internal(self, data)

    def related_strict(self: relations.RelatedField, data: Any = fields.empty) -> Any:
        if data == "":
            raise ValidationError("This field may not be blank.", code="blank")
        is_slug = isinstance(self, relations.SlugRelatedField)
        if is_slug and data is not fields.empty and not isinstance(data, str | None):
            self.fail("invalid")
        # PostgreSQL refuses NUL in text: the lookup would fail with a DataError (500).
        if isinstance(data, str) and "\x00" in data:
            raise ValidationError("Null characters are not allowed.", code="null_characters")
        return related_run_validation(self, data)

    fields.CharField.to_internal_value = char_strict  # type: ignore[method-assign,assignment]
    fields.BooleanField.to_internal_value = bool_strict  # type: ignore[method-assign,assignment]
    fields.DecimalField.to_internal_value = decimal_strict  # type: ignore[method-assign,assignment]
    relations.RelatedField.run_validation = related_strict  # type: ignore[method-assign,assignment]
