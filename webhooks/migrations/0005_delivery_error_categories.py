"""Delivery errors become fixed categories; the stored response bodies are dropped.

Raw error texts (socket errors, redirect targets) and the first bytes of the
receivers' answers told whoever reads the log what answered at an address.
Existing rows keep their status codes; their error text is mapped to the
category it describes, and an endpoint's `disabled_reason` loses the raw text
after "last: " in the same way.
"""

from django.db import migrations, models


CHOICES = [
    ("timeout", "No complete answer before the deadline"),
    ("connection_refused", "Connection refused"),
    ("connection_error", "Connection failed or was closed"),
    ("dns_error", "The name did not resolve"),
    ("blocked_address", "The address is not allowed"),
    ("invalid_url", "The URL cannot be used"),
    ("tls_error", "TLS handshake or certificate failed"),
    ("protocol_error", "Not a valid HTTP answer"),
    ("redirect_not_followed", "Redirect (not followed)"),
    ("http_4xx", "Client error status"),
    ("http_5xx", "Server error status"),
]
CATEGORIES = [value for value, _ in CHOICES]

# Old error text (as written by the previous HTTP client) -> category, first match wins.
CATEGORY_SQL = """
    CASE
        WHEN {col} = '' THEN ''
        WHEN {col} LIKE 'Timed out%' OR {col} ILIKE '%timed out%' THEN 'timeout'
        WHEN {col} LIKE 'Redirect to %' THEN 'redirect_not_followed'
        WHEN {col} ILIKE '%connection refused%' THEN 'connection_refused'
        WHEN {col} ILIKE '%name or service not known%'
            OR {col} ILIKE '%name resolution%'
            OR {col} ILIKE '%nodename nor servname%'
            OR {col} ILIKE '%no address associated%' THEN 'dns_error'
        WHEN {col} ILIKE '%ssl%' OR {col} ILIKE '%certificate%' THEN 'tls_error'
        WHEN {col} LIKE 'ValueError%' OR {col} LIKE 'InvalidURL%' THEN 'invalid_url'
        WHEN {col} LIKE 'BadStatusLine%' OR {col} LIKE 'LineTooLong%'
            OR {col} LIKE 'HTTPException%' THEN 'protocol_error'
        ELSE 'connection_error'
    END
"""
STATUS_SQL = """
    CASE
        WHEN {code} BETWEEN 200 AND 299 THEN ''
        WHEN {code} BETWEEN 300 AND 399 THEN 'redirect_not_followed'
        WHEN {code} BETWEEN 400 AND 499 THEN 'http_4xx'
        WHEN {code} BETWEEN 500 AND 599 THEN 'http_5xx'
        ELSE 'protocol_error'
    END
"""


def _categorise(table: str, col: str, code: str) -> str:
    return f"""
        UPDATE {table} SET {col} = CASE
            WHEN {code} IS NOT NULL THEN {STATUS_SQL.format(code=code)}
            ELSE {CATEGORY_SQL.format(col=col)}
        END
    """


DISABLED_REASONS_SQL = f"""
    UPDATE webhooks_endpoint
    SET disabled_reason = substring(disabled_reason from '^(.*last: )')
        || ({CATEGORY_SQL.format(col="substring(disabled_reason from 'last: (.*)\\.$')")})
        || '.'
    WHERE disabled_reason ~ 'last: .*\\.$' AND disabled_reason !~ 'last: HTTP \\d+\\.$'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0004_delivery_retry_until"),
    ]

    operations = [
        migrations.RunSQL(
            _categorise("webhooks_deliveryattempt", "error", "status_code"),
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            _categorise("webhooks_delivery", "last_error", "last_status_code"),
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(DISABLED_REASONS_SQL, reverse_sql=migrations.RunSQL.noop),
        migrations.RemoveField(model_name="deliveryattempt", name="response_body"),
        migrations.AlterField(
            model_name="delivery",
            name="last_error",
            field=models.CharField(blank=True, choices=CHOICES, max_length=32),
        ),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="error",
            field=models.CharField(blank=True, choices=CHOICES, max_length=32),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.CheckConstraint(
                condition=models.Q(last_error__in=["", *CATEGORIES]),
                name="delivery_last_error_category",
            ),
        ),
        migrations.AddConstraint(
            model_name="deliveryattempt",
            constraint=models.CheckConstraint(
                condition=models.Q(error__in=["", *CATEGORIES]),
                name="deliveryattempt_error_category",
            ),
        ),
    ]
