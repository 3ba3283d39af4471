"""Shapes of the accounts API: input serializers validate, output serializers render."""

from rest_framework import serializers

from accounts.countries import COUNTRY_CODES
from accounts.models import Address, User


class AccountsErrorSerializer(serializers.Serializer):
    """The API's error body (documentation only)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    # Shadows Serializer.errors, harmless: this class is never validated.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


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
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
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
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class CountryField(serializers.CharField):
    """ISO 3166-1 alpha-2, case-insensitive in, upper case out."""

    default_error_messages = {"invalid_country": "Not an ISO 3166-1 alpha-2 country code."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("min_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).upper()
        if value not in COUNTRY_CODES:
            self.fail("invalid_country")
        return value


class AddressSerializer(serializers.ModelSerializer):
    country = CountryField(help_text="ISO 3166-1 alpha-2 code, e.g. `DE`.")

    class Meta:
        model = Address
        fields = ["id", "full_name", "line1", "line2", "city", "postal_code", "country", "phone"]
        read_only_fields = ["id"]


class ExportSerializer(serializers.Serializer):
    """`me/export/`: profile, addresses, tokens (no secrets) and each app's section."""

    profile = serializers.DictField()
    addresses = AddressSerializer(many=True)
    tokens = serializers.ListField(child=serializers.DictField())
    orders = serializers.ListField(child=serializers.DictField())
