"""Shapes of the accounts API: input serializers validate, output serializers render."""

from typing import Any

from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    NumericPasswordValidator,
    get_default_password_validators,
)

from accounts.countries import COUNTRY_CODE_VALIDATOR
from accounts.models import ADDRESS_FIELDS, Address, User
from accounts.selectors import address_data
from core import serializers


class NewPasswordField(serializers.CharField):
    """A new password: shape only here; the service applies AUTH_PASSWORD_VALIDATORS.

    Its schema carries what a schema can state of the configured validators
    (minimum length, not all digits; core/openapi.py reads `openapi_schema`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=128, trim_whitespace=False, **kwargs)

    @property
    def openapi_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        for validator in get_default_password_validators():
            if isinstance(validator, MinimumLengthValidator):
                schema["minLength"] = max(schema.get("minLength", 0), validator.min_length)
            elif isinstance(validator, NumericPasswordValidator):
                schema["pattern"] = r"\D"  # not all digits
        return schema


class MeSerializer(serializers.ModelSerializer):
    """The user as `me/` shows it; only the names are writable."""

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "is_staff", "date_joined"]
        read_only_fields = ["id", "email", "is_staff", "date_joined"]


class MeUpdateSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = NewPasswordField(write_only=True)
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)


class LoginSerializer(serializers.Serializer):
    # No EmailField here: a malformed email must fail like any other bad login.
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class LoginResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)
    user = MeSerializer()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = NewPasswordField()


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = NewPasswordField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class CountryField(serializers.CharField):
    """ISO 3166-1 alpha-2, case-insensitive in, upper case out."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("min_length", 2)
        super().__init__(**kwargs)
        self.validators.append(COUNTRY_CODE_VALIDATOR)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class AddressSerializer(serializers.ModelSerializer):
    # Rendered as accounts.selectors.address_data shows an address (the export too).
    country = CountryField(help_text="ISO 3166-1 alpha-2 code, e.g. `DE`.")

    class Meta:
        model = Address
        fields = ["id", *ADDRESS_FIELDS]
        read_only_fields = ["id"]

    def to_representation(self, instance: Address) -> dict[str, Any]:
        return address_data(address=instance)


class ExportSerializer(serializers.Serializer):
    """`me/export/`: profile, addresses, tokens (no secrets) and each app's section."""

    profile = serializers.DictField()
    addresses = AddressSerializer(many=True)
    tokens = serializers.ListField(child=serializers.DictField())
    orders = serializers.ListField(child=serializers.DictField())
