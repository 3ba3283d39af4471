from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Integration(models.Model):
    """A system that calls the API (an ERP, a warehouse), as a service account.

    `user` is the account its API keys authenticate as: staff, in the group of
    `role`, with an unusable password (it can never log in, to the admin or the
    API's password log-in). Its permissions are its role's.
    """

    name = models.CharField(max_length=200, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration"
    )
    role = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """One key of an integration: `sr_<prefix>_<secret>`, of which only a keyed hash is kept.

    `prefix` is public (it finds the row and names the key in the back office);
    `digest` is HMAC-SHA256 of the whole key with the API_KEY_PEPPER setting.
    A key is usable while `revoked_at` is null and `expires_at` (if any) is in
    the future.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(digest__regex=r"^[0-9a-f]{64}$"), name="apikey_digest_hex"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True)
                | models.Q(expires_at__gt=models.F("created_at")),
                name="apikey_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"sr_{self.prefix}_…"
