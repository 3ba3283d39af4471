"""Who may call each operation of the API, as /work/shared/API.md's "who" column says.

The hostile-client tests read the operations from the OpenAPI schema and this
table says what each caller must get; `test_every_operation_is_classified`
fails when the schema grows an operation that is not listed here, so a new
endpoint is covered by every check as soon as it is classified (one line).
"""

from typing import Literal

Access = Literal["public", "user", "staff"]

ACCESS: dict[tuple[str, str], Access] = {
    # Accounts
    ("POST", "/api/v1/auth/register/"): "public",
    ("POST", "/api/v1/auth/login/"): "public",
    ("POST", "/api/v1/auth/logout/"): "user",
    ("POST", "/api/v1/auth/logout-all/"): "user",
    ("POST", "/api/v1/auth/password-reset/"): "public",
    ("POST", "/api/v1/auth/password-reset/confirm/"): "public",
    ("GET", "/api/v1/me/"): "user",
    ("PATCH", "/api/v1/me/"): "user",
    ("DELETE", "/api/v1/me/"): "user",
    ("POST", "/api/v1/me/password/"): "user",
    ("GET", "/api/v1/me/export/"): "user",
    ("GET", "/api/v1/me/addresses/"): "user",
    ("POST", "/api/v1/me/addresses/"): "user",
    ("GET", "/api/v1/me/addresses/{id}/"): "user",
    ("PUT", "/api/v1/me/addresses/{id}/"): "user",
    ("PATCH", "/api/v1/me/addresses/{id}/"): "user",
    ("DELETE", "/api/v1/me/addresses/{id}/"): "user",
    # Catalog: public reads, staff writes
    ("GET", "/api/v1/categories/"): "public",
    ("POST", "/api/v1/categories/"): "staff",
    ("GET", "/api/v1/categories/{slug}/"): "public",
    ("PATCH", "/api/v1/categories/{slug}/"): "staff",
    ("DELETE", "/api/v1/categories/{slug}/"): "staff",
    ("GET", "/api/v1/products/"): "public",
    ("POST", "/api/v1/products/"): "staff",
    ("GET", "/api/v1/products/{slug}/"): "public",
    ("PATCH", "/api/v1/products/{slug}/"): "staff",
    ("DELETE", "/api/v1/products/{slug}/"): "staff",
    ("POST", "/api/v1/variants/"): "staff",
    ("GET", "/api/v1/variants/{sku}/"): "staff",
    ("PATCH", "/api/v1/variants/{sku}/"): "staff",
    ("DELETE", "/api/v1/variants/{sku}/"): "staff",
    ("POST", "/api/v1/variants/{sku}/stock-adjustments/"): "staff",
    ("GET", "/api/v1/variants/{sku}/stock-movements/"): "staff",
    # Orders
    ("GET", "/api/v1/orders/"): "user",
    ("POST", "/api/v1/orders/"): "user",
    ("GET", "/api/v1/orders/{number}/"): "user",
    ("GET", "/api/v1/orders/{number}/events/"): "user",
    ("POST", "/api/v1/orders/{number}/cancel/"): "user",
    ("POST", "/api/v1/orders/{number}/mark-paid/"): "staff",
    ("POST", "/api/v1/orders/{number}/ship/"): "staff",
    ("POST", "/api/v1/orders/{number}/deliver/"): "staff",
    ("POST", "/api/v1/orders/{number}/refund/"): "staff",
    ("POST", "/api/v1/payments/webhook/"): "public",
    # Outgoing webhooks
    ("GET", "/api/v1/webhooks/"): "staff",
    ("POST", "/api/v1/webhooks/"): "staff",
    ("GET", "/api/v1/webhooks/{id}/"): "staff",
    ("PATCH", "/api/v1/webhooks/{id}/"): "staff",
    ("DELETE", "/api/v1/webhooks/{id}/"): "staff",
    ("GET", "/api/v1/webhooks/deliveries/"): "staff",
    ("GET", "/api/v1/webhooks/deliveries/{id}/"): "staff",
    ("POST", "/api/v1/webhooks/{id}/replay/"): "staff",
    ("GET", "/api/v1/webhooks/event-types/"): "staff",
    # Integrations
    ("GET", "/api/v1/integrations/"): "staff",
    ("POST", "/api/v1/integrations/"): "staff",
    ("GET", "/api/v1/integrations/{id}/"): "staff",
    ("PATCH", "/api/v1/integrations/{id}/"): "staff",
    ("DELETE", "/api/v1/integrations/{id}/"): "staff",
    ("GET", "/api/v1/integrations/{integration_id}/keys/"): "staff",
    ("POST", "/api/v1/integrations/{integration_id}/keys/"): "staff",
    ("DELETE", "/api/v1/integrations/{integration_id}/keys/{id}/"): "staff",
    ("POST", "/api/v1/stock/bulk-adjustments/"): "staff",
    ("GET", "/api/v1/variants/"): "staff",
    ("GET", "/api/v1/customers/"): "staff",
    ("GET", "/api/v1/customers/{id}/"): "staff",
    ("GET", "/api/v1/events/"): "staff",
}
