from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower, Now, Upper
from django.utils import timezone
from knox.models import AuthToken


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"], validate_unique=False)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not extra["is_staff"] or not extra["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        # Emails are unique case-insensitively, so log-in is too.
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address: customers and staff alike."""

    email = models.EmailField(
        "email address",
        max_length=254,
        unique=True,
        error_messages={"unique": "A user with this email already exists."},
    )
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Whether the user can log into the back office."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now, db_index=True)
    # Set by a trigger on every UPDATE too (migration 0008), whatever the
    # update_fields: incremental readers (customers/?updated_after=) rely on it.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email already exists.",
            ),
            # Log-in finds the account with email__iexact, which PostgreSQL runs as
            # UPPER(email) = UPPER(input): no two accounts may share that either
            # (upper() equates letters that lower() keeps apart, and vice versa).
            # Its index also serves that lookup.
            models.UniqueConstraint(
                Upper("email"),
                name="accounts_user_email_upper_unique",
                violation_error_message="A user with this email already exists.",
            ),
        ]
        ordering = ["-date_joined"]
        indexes = [
            # The back office's user filters, each with its newest-first order.
            models.Index(fields=["is_staff", "-date_joined"], name="user_staff_joined_idx"),
            models.Index(fields=["is_active", "-date_joined"], name="user_active_joined_idx"),
            models.Index(fields=["updated_at", "id"], name="user_updated_idx"),
            models.Index(
                fields=["-date_joined"],
                name="user_superuser_joined_idx",
                condition=models.Q(is_superuser=True),
            ),
            # The back office's search: a fragment of the email or of a name
            # (`icontains`, which compares UPPER(...)), by trigrams.
            GinIndex(
                OpClass(Upper("email"), name="gin_trgm_ops"),
                OpClass(Upper("first_name"), name="gin_trgm_ops"),
                OpClass(Upper("last_name"), name="gin_trgm_ops"),
                name="user_search_trgm_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


# What an address holds besides its owner: what orders copy and what users edit.
ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country", "phone")


class Address(models.Model):
    """A customer's saved address; orders copy it, so editing it never changes an order."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    full_name = models.CharField(max_length=200)
    line1 = models.CharField(max_length=255)
    line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.full_name}, {self.city} ({self.country})"


class LoginFailure(models.Model):
    """One failed log-in, kept in PostgreSQL so the lockout survives a cache outage.

    Rows older than the lockout window carry no meaning and are purged
    (`login_failures_purge`). `lockout_key` is what the failure counts against
    (`user:<pk>` or `email:<email as PostgreSQL upper-cases it>`, see
    accounts.login); `email` is the spelling that was typed, for the back office.
    """

    lockout_key = models.TextField()
    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["lockout_key", "-created_at"], name="loginfailure_key_idx"),
            models.Index(fields=["ip_address", "-created_at"], name="loginfailure_ip_idx"),
            models.Index(fields=["created_at"], name="loginfailure_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} from {self.ip_address} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(AuthToken):
    """knox's token as the back office shows it: its name never includes the digest."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        expiry = f"{self.expiry:%Y-%m-%d %H:%M} UTC" if self.expiry else "never"
        return f"API token created {self.created:%Y-%m-%d %H:%M} UTC, expires {expiry}"
