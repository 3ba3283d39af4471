"""Reads of accounts that views, the admin and the export share."""

from typing import Any

from django.db.models import Q, QuerySet
from knox.models import AuthToken

from accounts.models import ADDRESS_FIELDS, Address, User
from accounts.personal_data import DEFAULT_SECTIONS, EXPORTERS


def address_list(*, user: User) -> QuerySet[Address]:
    """The user's own addresses: anyone else's id is simply not there (404)."""
    return Address.objects.filter(user=user).order_by("id")


def address_data(*, address: Address) -> dict[str, Any]:
    """An address as the API and the personal-data export show it (JSON-ready)."""
    return {"id": address.pk, **{name: getattr(address, name) for name in ADDRESS_FIELDS}}


def user_export(*, user: User) -> dict[str, Any]:
    """Everything stored about the user, JSON-ready.

    accounts fills `profile`, `addresses` and `tokens`; other apps add their
    sections through `accounts.personal_data.register_exporter`.
    """
    data: dict[str, Any] = {
        "profile": {
            "id": user.pk,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "is_staff": user.is_staff,
            "is_active": user.is_active,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "addresses": [address_data(address=address) for address in address_list(user=user)],
        "tokens": [
            {"created": created.isoformat(), "expiry": expiry.isoformat() if expiry else None}
            for created, expiry in AuthToken.objects.filter(user=user)
            .order_by("created")
            .values_list("created", "expiry")
        ],
    }
    for name, default in DEFAULT_SECTIONS.items():
        data[name] = default()
    for name, exporter in EXPORTERS.items():
        data[name] = exporter(user)
    return data


def user_ids_matching(*, word: str) -> QuerySet[User, Any]:
    """Ids of the users whose email, first name or last name contains `word`, in any case.

    A query to use as a subquery (`user_id__in=`); user_search_trgm_idx serves it.
    """
    return (
        User.objects.filter(
            Q(email__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
        .order_by()
        .values("pk")
    )
