"""The rows every install starts with: the three tax classes and a default shipping method.

Called by the data migration with the historical app registry; idempotent
(rows already there are left as staff edited them).
"""

from decimal import Decimal
from typing import Any

from django.conf import settings

TAX_CLASSES = (("standard", "Standard rate"), ("reduced", "Reduced rate"), ("zero", "Zero rate"))
DEFAULT_SHIPPING_CODE = "standard"


def defaults_seed(apps: Any) -> None:
    """Create the tax classes, and a default shipping method when there is none.

    The default method keeps what the flat-rate settings did before shipping
    methods existed: SHIPPING_FLAT_RATE for every country, free from
    SHIPPING_FREE_FROM.
    """
    tax_class = apps.get_model("pricing", "TaxClass")
    for code, name in TAX_CLASSES:
        tax_class.objects.get_or_create(code=code, defaults={"name": name})
    method = apps.get_model("pricing", "ShippingMethod")
    if not method.objects.exists():
        method.objects.create(
            code=DEFAULT_SHIPPING_CODE,
            name="Standard shipping",
            countries=[],
            rule="free_from",
            price=Decimal(settings.SHIPPING_FLAT_RATE),
            free_from=Decimal(settings.SHIPPING_FREE_FROM),
        )
