"""Log-in with a brute-force lockout whose counters live in PostgreSQL.

Both doors in, the API (`user_login`) and the back office's login form
(`credentials_check` through `accounts.forms.AdminLoginForm`), count against
the same lockout. Failures are rows of `LoginFailure`, so the lockout holds
when Redis is down (DRF's throttles, which use the cache, then fail open).

An attempt is counted against its lockout key: the account (`user:<pk>`) when
the email finds one, by the very lookup that authentication uses, so every
spelling PostgreSQL folds onto that account counts against it; otherwise the
email as PostgreSQL folds it (`email:<upper(email)>`). A key is locked after
`LOGIN_LOCKOUT_EMAIL_FAILURES` failures within `LOGIN_LOCKOUT_WINDOW`, a client
address after `LOGIN_LOCKOUT_ADDRESS_FAILURES` (offices and mobile carriers
share addresses, so that limit is higher). While locked, even the right
password is refused, and locked attempts are not recorded, so the cool-off
always ends.
"""

import ipaddress
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.exceptions import InvalidCredentials, LoginLocked
from accounts.models import LoginFailure, User


def failure_window() -> timedelta:
    """How long a failure counts (`LOGIN_LOCKOUT_WINDOW`)."""
    window: timedelta = settings.LOGIN_LOCKOUT_WINDOW
    return window


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's IP as DRF's throttles see it (honours NUM_PROXIES); None if unparsable."""
    ident = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except (ValueError, AttributeError):
        return None


def user_lockout_key(*, user: User) -> str:
    """The lockout key of an account, whatever spelling of its email was typed."""
    return f"user:{user.pk}"


def _key_and_lock(email: str) -> str:
    """The lockout key of `email`, taking its transaction-level advisory lock.

    The lock serialises attempts for one key, so N parallel guesses cannot slip
    past the limit between the count and the insert. The account is found with
    the ORM's own `email__iexact` (what `get_by_natural_key` uses), and an
    unknown email is folded by the database, so the key never disagrees with
    what authentication matches. One statement.
    """
    account = User.objects.filter(email__iexact=email).order_by("pk").values("pk")[:1]
    account_sql, account_params = account.query.sql_with_params()
    with connection.cursor() as cursor:
        # Only the ORM's compiled SQL is formatted in; the email is a parameter.
        cursor.execute(
            "SELECT k, pg_advisory_xact_lock(hashtextextended(k, 0)) FROM ("  # noqa: S608  # nosec B608
            f"SELECT COALESCE('user:' || ({account_sql}), 'email:' || upper(%s)) AS k) AS key",
            [*account_params, email],
        )
        key: str = cursor.fetchone()[0]
    return key


def _seconds_locked(failures: QuerySet[LoginFailure], *, limit: int, now: datetime) -> int:
    """Seconds until fewer than `limit` failures remain in the window (0: not locked)."""
    window = failure_window()
    # The limit-th newest failure in the window: the lock lifts one window after it.
    nth = list(
        failures.filter(created_at__gt=now - window)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[limit - 1 : limit]
    )
    if not nth:
        return 0
    return max(1, math.ceil((nth[0] + window - now).total_seconds()))


def login_lock_remaining(*, key: str, ip_address: str | None, now: datetime) -> int:
    """Seconds the caller must wait before another attempt on lockout `key` from `ip_address`."""
    waits = [
        _seconds_locked(
            LoginFailure.objects.filter(lockout_key=key),
            limit=settings.LOGIN_LOCKOUT_EMAIL_FAILURES,
            now=now,
        )
    ]
    if ip_address is not None:
        waits.append(
            _seconds_locked(
                LoginFailure.objects.filter(ip_address=ip_address),
                limit=settings.LOGIN_LOCKOUT_ADDRESS_FAILURES,
                now=now,
            )
        )
    return max(waits)


def _credentials_check(*, request: HttpRequest, email: str, password: str) -> User | None:
    """The lockout and the password check, in the caller's transaction (see credentials_check)."""
    email = email.strip()
    ip_address = client_address(request)
    key = _key_and_lock(email)
    wait = login_lock_remaining(key=key, ip_address=ip_address, now=timezone.now())
    if wait:
        raise LoginLocked(retry_after=wait)
    # ModelBackend hashes the password even for an unknown email, so timing
    # does not tell whether the account exists.
    user = authenticate(request, email=email, password=password)
    if user is None:
        LoginFailure.objects.create(lockout_key=key, email=email[:254], ip_address=ip_address)
        return None
    assert isinstance(user, User)
    LoginFailure.objects.filter(lockout_key=key).delete()
    return user


def credentials_check(*, request: HttpRequest, email: str, password: str) -> User:
    """The account that `email` and `password` identify, under the log-in lockout.

    Raises LoginLocked while the account (or unknown email) or the client
    address is cooling off, whatever the password, and InvalidCredentials
    (recording the failure) for an unknown email, a wrong password or an
    inactive or erased account: the same error for all three. A success clears
    the account's failures. Issues nothing and logs nobody in: the caller does.
    """
    with transaction.atomic():
        user = _credentials_check(request=request, email=email, password=password)
    if user is None:
        # Raised outside the block so that the failure row is committed.
        raise InvalidCredentials()
    return user


def user_login(*, request: Request, email: str, password: str) -> tuple[User, AuthToken, str]:
    """Check the credentials and issue a knox token: `(user, token row, raw key)`.

    Raises as `credentials_check` does. The raw key is returned once and never stored.
    """
    with transaction.atomic():
        user = _credentials_check(request=request._request, email=email, password=password)
        if user is not None:
            # Requests only check their own token's expiry (accounts.authentication):
            # the user's other expired tokens go here, where tokens are added.
            AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
            token, key = AuthToken.objects.create(user=user)
            user_logged_in.send(sender=type(user), request=request._request, user=user)
    if user is None:
        raise InvalidCredentials()
    return user, token, key


def login_failures_purge(*, now: datetime | None = None) -> int:
    """Delete failures older than the window (they no longer count); returns how many."""
    cutoff = (now or timezone.now()) - failure_window()
    deleted, _ = LoginFailure.objects.filter(created_at__lte=cutoff).delete()
    return deleted
