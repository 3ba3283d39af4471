"""Every write of accounts: registration, profile, passwords, tokens, addresses, erasure."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from knox.models import AuthToken

from accounts.exceptions import (
    AddressLimitReached,
    EmailTaken,
    InvalidResetToken,
    WrongPassword,
)
from accounts.login import user_lockout_key
from accounts.models import ADDRESS_FIELDS, Address, LoginFailure, User
from accounts.personal_data import ERASERS
from core.errors import FieldInvalid
from emails.models import EmailKind
from emails.services import email_queue

logger = logging.getLogger("stockroom.accounts")


def _password_validate(*, password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise FieldInvalid(errors={field: exc.messages}) from exc


# --- Registration and profile ----------------------------------------------


def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Create a customer. Emails are unique case-insensitively; the validators apply."""
    email = User.objects.normalize_email(email.strip())
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    _password_validate(password=password, user=candidate, field="password")
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken()
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email, password, first_name=first_name, last_name=last_name
            )
    except (IntegrityError, DjangoValidationError) as exc:
        # A concurrent registration won the race (caught by the case-insensitive
        # constraint, in full_clean or in the INSERT itself).
        raise EmailTaken() from exc


def user_update(*, user: User, first_name: str | None = None, last_name: str | None = None) -> User:
    """Change the names a user may change about themselves (nothing else)."""
    changed = []
    if first_name is not None:
        user.first_name = first_name
        changed.append("first_name")
    if last_name is not None:
        user.last_name = last_name
        changed.append("last_name")
    if changed:
        user.save(update_fields=changed)
    return user


# --- Tokens -----------------------------------------------------------------


def token_revoke(*, token: AuthToken) -> None:
    token.delete()


def tokens_revoke_all(*, user: User, keep: AuthToken | None = None) -> int:
    """Delete the user's tokens, except `keep` (the caller's own); returns how many."""
    tokens = AuthToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(digest=keep.digest)
    deleted, _ = tokens.delete()
    return deleted


# --- Passwords --------------------------------------------------------------


@transaction.atomic
def user_password_change(
    *, user: User, current_password: str, new_password: str, keep: AuthToken | None = None
) -> None:
    """Change the password; every other token of the user stops working."""
    if not user.check_password(current_password):
        raise WrongPassword(field="current_password")
    _password_validate(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    tokens_revoke_all(user=user, keep=keep)


def password_reset_request(*, email: str) -> None:
    """Record a reset request for `email`, whatever it is (the emails outbox sends it later).

    The request does the same work for every address: one INSERT, no lookup.
    The account is looked up when the email is sent (`password_reset_message`),
    so neither the answer nor its timing tells who has an account.
    """
    email_queue(kind=EmailKind.PASSWORD_RESET, address=email.strip())


def password_reset_link(*, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PASSWORD_RESET_URL.format(uid=uid, token=token)


def password_reset_message(*, email: str) -> EmailMultiAlternatives | None:
    """The reset email for the active account with this address; None if there is none.

    Rendered from templates/email/ (text and HTML); an account without a
    usable password (erased, or one that logs in elsewhere) gets none.
    """
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not user.has_usable_password():
        return None
    context = {
        "user": user,
        "reset_url": password_reset_link(user=user),
        "valid_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
    }
    subject = "".join(render_to_string("email/password_reset_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/password_reset.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("email/password_reset.html", context), "text/html")
    return message


def _reset_user(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk, is_active=True).first()


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; all tokens of the user stop working.

    The link is single use: Django's token covers the password hash, which changes here.
    """
    user = _reset_user(uid)
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidResetToken()
    _password_validate(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    tokens_revoke_all(user=user)
    return user


# --- Addresses --------------------------------------------------------------


@transaction.atomic
def address_create(*, user: User, **fields: Any) -> Address:
    """Save an address for the user, up to ADDRESSES_PER_USER_MAX.

    Locks the user's row so that parallel requests cannot pass the cap together.
    """
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk").get()
    limit = settings.ADDRESSES_PER_USER_MAX
    if Address.objects.filter(user=user).count() >= limit:
        raise AddressLimitReached(limit=limit)
    return Address.objects.create(user=user, **_address_fields(fields))


def address_update(*, address: Address, **fields: Any) -> Address:
    values = _address_fields(fields)
    for name, value in values.items():
        setattr(address, name, value)
    if values:
        address.save(update_fields=list(values))
    return address


def address_delete(*, address: Address) -> None:
    address.delete()


def _address_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(ADDRESS_FIELDS)
    if unknown:
        raise TypeError(f"Unknown address fields: {sorted(unknown)}")
    return fields


# --- Erasure ----------------------------------------------------------------


def erased_email(user: User) -> str:
    """A placeholder that is unique per user and can never receive mail (RFC 2606 .invalid)."""
    return f"deleted-{user.pk}@erased.invalid"


@transaction.atomic
def user_erase(*, user: User) -> None:
    """Erase the user's personal data but keep the row, so orders keep their owner.

    Names, phone and saved addresses go, the email becomes a placeholder, the
    password unusable, every token is revoked, staff rights are dropped and the
    account is inactive. Then
    each registered eraser (accounts.personal_data.ERASERS) runs, inside this
    transaction and with the user's row locked.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    old_email = locked.email
    Address.objects.filter(user=locked).delete()
    AuthToken.objects.filter(user=locked).delete()
    LoginFailure.objects.filter(
        Q(lockout_key=user_lockout_key(user=locked)) | Q(email__iexact=old_email)
    ).delete()
    locked.first_name = ""
    locked.last_name = ""
    locked.phone = ""
    locked.email = erased_email(locked)
    locked.is_active = False
    # An erased account keeps no back-office rights, should anyone reactivate it.
    locked.is_staff = False
    locked.is_superuser = False
    locked.groups.clear()
    locked.user_permissions.clear()
    locked.set_unusable_password()
    locked.save(
        update_fields=[
            "first_name",
            "last_name",
            "phone",
            "email",
            "is_active",
            "is_staff",
            "is_superuser",
            "password",
        ]
    )
    # The back office's history of this account names it by its email: rename it too.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(locked.pk)
    ).update(object_repr=locked.email)
    for eraser in ERASERS:
        eraser(locked)
    logger.info("user erased", extra={"user_id": locked.pk})
    # The caller's instance must not write the old values back later.
    user.refresh_from_db()


def user_delete_self(*, user: User, password: str) -> None:
    """A user erases their own account, confirming with their password."""
    if not user.check_password(password):
        raise WrongPassword(field="password")
    user_erase(user=user)
