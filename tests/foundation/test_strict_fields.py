"""core.serializers: the apps' fields read JSON as the schema says; DRF's own are untouched."""

import pytest
from rest_framework import fields, relations
from rest_framework import serializers as drf

from accounts.models import Address, User
from core import serializers


class UserShape(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["email", "first_name", "is_staff", "groups"]


class AddressShape(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["user", "country"]


def test_a_model_serializer_builds_the_strict_fields():
    built = UserShape().fields
    assert type(built["email"]) is serializers.EmailField
    assert type(built["first_name"]) is serializers.CharField
    assert type(built["is_staff"]) is serializers.BooleanField
    groups = built["groups"]
    assert isinstance(groups, relations.ManyRelatedField)
    assert type(groups.child_relation) is serializers.PrimaryKeyRelatedField
    assert type(AddressShape().fields["user"]) is serializers.PrimaryKeyRelatedField


@pytest.mark.parametrize("strict", sorted(set(serializers.STRICT_FIELDS.values()), key=str))
def test_every_strict_field_is_still_the_drf_field_it_replaces(strict):
    replaced = [
        drf_field for drf_field, ours in serializers.STRICT_FIELDS.items() if ours is strict
    ]
    assert all(issubclass(strict, drf_field) for drf_field in replaced)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (serializers.CharField(), 0),
        (serializers.EmailField(), 1),
        (serializers.SlugField(), True),
        (serializers.URLField(), 2.5),
        (serializers.BooleanField(), 1),
    ],
)
def test_a_strict_field_refuses_a_json_value_of_another_type(field, value):
    with pytest.raises(serializers.ValidationError) as error:
        field.run_validation(value)
    assert error.value.get_codes() == ["invalid"]


def test_text_and_query_string_booleans_are_still_read():
    assert serializers.CharField().run_validation("0") == "0"
    assert serializers.BooleanField().run_validation("false") is False


@pytest.mark.django_db
def test_a_relation_refuses_blank_and_nul_characters():
    field = serializers.SlugRelatedField(slug_field="email", queryset=User.objects.all())
    for value, code in (("", "blank"), ("a\x00b", "null_characters"), (3, "invalid")):
        with pytest.raises(serializers.ValidationError) as error:
            field.run_validation(value)
        assert error.value.get_codes() == [code]


def test_drf_itself_is_not_patched():
    """A library's serializer keeps DRF's coercion: only the apps' fields are strict."""
    assert fields.CharField().run_validation(0) == "0"
    assert fields.BooleanField().run_validation(1) is True
    assert drf.ModelSerializer.serializer_related_field is relations.PrimaryKeyRelatedField
