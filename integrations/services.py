"""Every write to integrations and their API keys.

Key creation and revocation are outbox events (`integration.key_created`,
`integration.key_revoked`): staff see them in `events/` and webhooks. The key
itself is returned once by api_key_create and stored nowhere.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.roles import ROLES
from core.errors import FieldInvalid
from integrations.keys import key_generate
from integrations.models import ApiKey, Integration
from webhooks.services import event_record

# Service accounts live under a reserved domain (RFC 2606): no mail goes there,
# and the back office refuses any account of it (core.admin_site).
SERVICE_ACCOUNT_DOMAIN = "integration.invalid"
LAST_USED_RESOLUTION_SECONDS = 60


def is_service_account(user: Any) -> bool:
    email = getattr(user, "email", "") or ""
    return email.endswith(f"@{SERVICE_ACCOUNT_DOMAIN}")


def role_group(*, name: str) -> Group:
    """The group of the staff role called `name`; FieldInvalid if there is none."""
    if name not in {role.name for role in ROLES}:
        raise FieldInvalid(field="role", message=f"Unknown role {name!r}.")
    try:
        return Group.objects.get(name=name)
    except Group.DoesNotExist:
        raise FieldInvalid(
            field="role", message=f"Role {name!r} is not set up (run setup_roles)."
        ) from None


@transaction.atomic
def integration_create(*, name: str, role: str) -> Integration:
    """Create an integration and its service account (staff, in `role`'s group, no password)."""
    group = role_group(name=role)
    user = get_user_model().objects.create_user(
        email=f"integration-{uuid.uuid4().hex}@{SERVICE_ACCOUNT_DOMAIN}",
        password=None,
        is_staff=True,
        first_name=name[:150],
    )
    user.groups.set([group])
    try:
        with transaction.atomic():
            return Integration.objects.create(name=name, user=user, role=group)
    except IntegrityError:
        raise FieldInvalid(
            field="name", message="An integration with this name already exists."
        ) from None


@transaction.atomic
def integration_update(
    *,
    integration: Integration,
    name: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> Integration:
    """Rename, change the role of, or (de)activate an integration. Locks its row.

    A deactivated integration's keys are refused at once (its account is inactive).
    """
    integration = (
        Integration.objects.select_for_update().select_related("user").get(pk=integration.pk)
    )
    user = integration.user
    if role is not None:
        integration.role = role_group(name=role)
        user.groups.set([integration.role])
    if name is not None:
        integration.name = name
        user.first_name = name[:150]
    if is_active is not None:
        integration.is_active = is_active
        user.is_active = is_active
    user.save(update_fields=["first_name", "is_active"])
    try:
        with transaction.atomic():
            integration.save(update_fields=["name", "role", "is_active", "updated_at"])
    except IntegrityError:
        raise FieldInvalid(
            field="name", message="An integration with this name already exists."
        ) from None
    return integration


@transaction.atomic
def integration_delete(*, integration: Integration) -> None:
    """Revoke every key, delete the integration and deactivate its account.

    The account is kept (inactive, unusable) so the ledger rows and order
    events it wrote still name who wrote them.
    """
    integration = (
        Integration.objects.select_for_update().select_related("user").get(pk=integration.pk)
    )
    for key in integration.keys.filter(revoked_at__isnull=True).order_by("pk"):
        api_key_revoke(key=key)
    user = integration.user
    user.is_active = False
    user.groups.clear()
    user.save(update_fields=["is_active"])
    ApiKey.objects.filter(integration=integration).delete()
    integration.delete()


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    key: str


@transaction.atomic
def api_key_create(*, integration: Integration, expires_at: datetime | None = None) -> CreatedKey:
    """A new key for `integration`. The returned `key` is shown once and never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise FieldInvalid(field="expires_at", message="Must be in the future.")
    new = key_generate()
    api_key = ApiKey.objects.create(
        integration=integration, prefix=new.prefix, digest=new.digest, expires_at=expires_at
    )
    event_record(
        type="integration.key_created",
        data={
            "integration": integration.pk,
            "key": api_key.pk,
            "prefix": api_key.prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return CreatedKey(api_key=api_key, key=new.key)


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke `key` now (it is refused from the next request on). Idempotent.

    The event is recorded only by the call that revoked it.
    """
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        event_record(
            type="integration.key_revoked",
            data={"integration": key.integration_id, "key": key.pk, "prefix": key.prefix},
        )
    return key


def api_key_touch(*, key: ApiKey, now: datetime) -> None:
    """Record that `key` was used: at most one write a minute per key, whatever the traffic.

    A guarded UPDATE, so concurrent requests write it once between them.
    """
    last = key.last_used_at
    if last is not None and (now - last).total_seconds() < LAST_USED_RESOLUTION_SECONDS:
        return
    cutoff = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff)
    ).update(last_used_at=now)
    key.last_used_at = now
