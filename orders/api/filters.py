from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from orders.models import Order, OrderStatus


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 allows UTC offsets up to ±23:59, PostgreSQL only ±15:59: compare in UTC.

    Found by schemathesis: `created_before=4011-09-21T15:33:16-17:52` was a
    PostgreSQL DataError (500). A time that cannot be expressed in UTC is a 400.
    """

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "created_after", "created_before"]
