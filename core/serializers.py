"""DRF's serializers and fields, with JSON input types as the schema says them.

The apps import `from core import serializers` where they would import DRF's:
the same names, and these field classes where DRF would coerce.

DRF coerces scalars on input: `{"last_name": 0}` is stored as "0" and
`{"is_published": 0}` as False, although the OpenAPI schema (and clients
generated from it) say string and boolean. Schemathesis sends such bodies and
rightly expects a 400. Query strings are always text, so text values stay
accepted everywhere (`?in_stock=true`); only a JSON number or boolean where
text is expected, a number where a boolean is expected, or a JSON number where
a decimal string is expected (money and rates are decimal strings, and a float
would carry binary rounding), is refused, with the field's usual `invalid`
error. A relation (a slug or id naming another
object) given as "" is refused as blank instead of read as null, a slug given
as a number is refused instead of looked up as text, and one containing a NUL
character is refused before PostgreSQL sees it.

Subclasses, not a patch of DRF: a library's own serializers keep DRF's
behaviour, and tests/foundation/test_architecture.py keeps the apps on these.
"""

from typing import Any

from rest_framework import fields, relations
from rest_framework import serializers as drf
from rest_framework.exceptions import ValidationError as ValidationError
from rest_framework.fields import empty
from rest_framework.serializers import BaseSerializer as BaseSerializer
from rest_framework.serializers import ChoiceField as ChoiceField
from rest_framework.serializers import DateField as DateField
from rest_framework.serializers import DateTimeField as DateTimeField
from rest_framework.serializers import DictField as DictField
from rest_framework.serializers import Field as Field
from rest_framework.serializers import FloatField as FloatField
from rest_framework.serializers import IntegerField as IntegerField
from rest_framework.serializers import JSONField as JSONField
from rest_framework.serializers import ListField as ListField
from rest_framework.serializers import ListSerializer as ListSerializer
from rest_framework.serializers import MultipleChoiceField as MultipleChoiceField
from rest_framework.serializers import ReadOnlyField as ReadOnlyField
from rest_framework.serializers import Serializer as Serializer
from rest_framework.serializers import SerializerMethodField as SerializerMethodField
from rest_framework.serializers import UUIDField as UUIDField


class CharField(fields.CharField):
    """Text, given as a JSON string: a number or a boolean is `invalid`."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class EmailField(CharField, fields.EmailField):
    pass


class RegexField(CharField, fields.RegexField):
    pass


class SlugField(CharField, fields.SlugField):
    pass


class URLField(CharField, fields.URLField):
    pass


class IPAddressField(CharField, fields.IPAddressField):
    pass


class BooleanField(fields.BooleanField):
    """true or false (or their text, as a query string gives them): a number is `invalid`."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, int | float) and not isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class DecimalField(fields.DecimalField):
    """A decimal string (or a query string's text): a JSON number is `invalid`."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class _StrictRelation(relations.RelatedField):
    def run_validation(self, data: Any = empty) -> Any:
        if data == "":
            raise ValidationError("This field may not be blank.", code="blank")
        is_slug = isinstance(self, relations.SlugRelatedField)
        if is_slug and data is not empty and not isinstance(data, str | None):
            self.fail("invalid")
        # PostgreSQL refuses NUL in text: the lookup would fail with a DataError (500).
        if isinstance(data, str) and "\x00" in data:
            raise ValidationError("Null characters are not allowed.", code="null_characters")
        return super().run_validation(data)


class PrimaryKeyRelatedField(_StrictRelation, relations.PrimaryKeyRelatedField):
    pass


class SlugRelatedField(_StrictRelation, relations.SlugRelatedField):
    pass


# DRF's field class -> the strict one, for the fields a ModelSerializer builds.
STRICT_FIELDS: dict[type[fields.Field], type[fields.Field]] = {
    fields.CharField: CharField,
    fields.EmailField: EmailField,
    fields.RegexField: RegexField,
    fields.SlugField: SlugField,
    fields.URLField: URLField,
    fields.IPAddressField: IPAddressField,
    fields.BooleanField: BooleanField,
    fields.DecimalField: DecimalField,
    relations.PrimaryKeyRelatedField: PrimaryKeyRelatedField,
    relations.SlugRelatedField: SlugRelatedField,
}


# DRF's ModelSerializer building the strict fields for model fields and relations (no
# docstring: drf-spectacular would show it as every model serializer's description).
class ModelSerializer(drf.ModelSerializer):
    serializer_field_mapping = {
        model_field: STRICT_FIELDS.get(field, field)
        for model_field, field in drf.ModelSerializer.serializer_field_mapping.items()
    }
    serializer_related_field = PrimaryKeyRelatedField
