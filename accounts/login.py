"""Log-in with a brute-force lockout whose counters live in PostgreSQL.

Failures are rows of `LoginFailure`, so the lockout holds when Redis is down
(DRF's throttles, which use the cache, then fail open). An email is locked
after `EMAIL_FAILURE_LIMIT` failures within `FAILURE_WINDOW`, a client address
after `ADDRESS_FAILURE_LIMIT` (offices and mobile carriers share addresses, so
that limit is higher). While locked, even the right password is refused, and
locked attempts are not recorded, so the cool-off always ends.
"""

import ipaddress
import math
from datetime import datetime, timedelta

from django.contrib.auth import authenticate, user_logged_in
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.exceptions import InvalidCredentials, LoginLocked
from accounts.models import LoginFailure, User

FAILURE_WINDOW = timedelta(minutes=15)
EMAIL_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 50


def client_address(request: Request) -> str | None:
    """The client's IP as DRF's throttles see it (honours NUM_PROXIES); None if unparsable."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except (ValueError, AttributeError):
        return None


def _seconds_locked(failures: QuerySet[LoginFailure], *, limit: int, now: datetime) -> int:
    """Seconds until fewer than `limit` failures remain in the window (0: not locked)."""
    # The limit-th newest failure in the window: the lock lifts one window after it.
    nth = list(
        failures.filter(created_at__gt=now - FAILURE_WINDOW)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[limit - 1 : limit]
    )
    if not nth:
        return 0
    return max(1, math.ceil((nth[0] + FAILURE_WINDOW - now).total_seconds()))


def login_lock_remaining(*, email: str, ip_address: str | None, now: datetime) -> int:
    """Seconds the caller must wait before another attempt for `email` from `ip_address`."""
    waits = [
        _seconds_locked(
            LoginFailure.objects.filter(email=email), limit=EMAIL_FAILURE_LIMIT, now=now
        )
    ]
    if ip_address is not None:
        waits.append(
            _seconds_locked(
                LoginFailure.objects.filter(ip_address=ip_address),
                limit=ADDRESS_FAILURE_LIMIT,
                now=now,
            )
        )
    return max(waits)


def _lock_email(email: str) -> None:
    # Serialises attempts for one email, so N parallel guesses cannot slip past
    # the limit between the count and the insert.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [email])


def user_login(*, request: Request, email: str, password: str) -> tuple[User, AuthToken, str]:
    """Check the credentials and issue a knox token: `(user, token row, raw key)`.

    Raises LoginLocked while the email or the client address is cooling off, and
    InvalidCredentials (recording the failure) for an unknown email, a wrong
    password or an inactive or erased account: the same error for all three.
    The raw key is returned once and never stored.
    """
    email_key = email.strip().lower()
    ip_address = client_address(request)
    with transaction.atomic():
        _lock_email(email_key)
        wait = login_lock_remaining(email=email_key, ip_address=ip_address, now=timezone.now())
        if wait:
            raise LoginLocked(retry_after=wait)
        # ModelBackend hashes the password even for an unknown email, so timing
        # does not tell whether the account exists.
        user = authenticate(request._request, email=email_key, password=password)
        if user is None:
            LoginFailure.objects.create(email=email_key, ip_address=ip_address)
        else:
            LoginFailure.objects.filter(email=email_key).delete()
            token, key = AuthToken.objects.create(user=user)
            user_logged_in.send(sender=type(user), request=request._request, user=user)
    if user is None:
        # Raised outside the block so that the failure row is committed.
        raise InvalidCredentials()
    assert isinstance(user, User)
    return user, token, key


def login_failures_purge(*, now: datetime | None = None) -> int:
    """Delete failures older than the window (they no longer count); returns how many."""
    cutoff = (now or timezone.now()) - FAILURE_WINDOW
    deleted, _ = LoginFailure.objects.filter(created_at__lte=cutoff).delete()
    return deleted
