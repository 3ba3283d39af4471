"""accounts.User: email login, case-insensitive uniqueness, superuser from the environment."""

import json
import subprocess
import sys

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import CreateModel

from tests.foundation.procs import ROOT, child_env

User = get_user_model()
PASSWORD = "a-long-enough-password-42"


def test_user_model_logs_in_with_email_and_has_no_username():
    assert User.USERNAME_FIELD == "email"
    assert User.REQUIRED_FIELDS == []
    assert "username" not in {field.name for field in User._meta.get_fields()}


def test_user_model_is_created_by_the_first_accounts_migration():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    first = loader.disk_migrations[("accounts", "0001_initial")]
    created = [op.name for op in first.operations if isinstance(op, CreateModel)]
    assert "User" in created


@pytest.mark.django_db
def test_emails_differing_only_in_case_are_rejected_by_validation():
    User.objects.create_user(email="Ann@x.io", password=PASSWORD)
    with pytest.raises(ValidationError) as caught:
        User.objects.create_user(email="ann@x.io", password=PASSWORD)
    assert "A user with this email already exists." in str(caught.value)
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_emails_differing_only_in_case_are_rejected_by_the_database():
    User.objects.create(email="Ann@x.io")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ANN@X.IO")


@pytest.mark.django_db
def test_authenticate_by_email_ignores_case():
    user = User.objects.create_user(email="Ann@Example.com", password=PASSWORD)
    assert authenticate(email="ann@EXAMPLE.com", password=PASSWORD) == user
    assert authenticate(email="ann@example.com", password="wrong-password") is None


@pytest.mark.django_db
def test_admin_login_accepts_the_email_in_another_case(client):
    User.objects.create_user(email="Staff@x.io", password=PASSWORD, is_staff=True)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "STAFF@X.IO", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_createsuperuser_noinput_reads_email_and_password_from_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@stockroom.example")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, verbosity=0)
    admin = User.objects.get(email="root@stockroom.example")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password(PASSWORD)


@pytest.mark.django_db
def test_createsuperuser_noinput_refuses_an_email_taken_in_another_case(monkeypatch):
    User.objects.create_user(email="root@stockroom.example", password=PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ROOT@stockroom.example")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="already taken"):
        call_command("createsuperuser", interactive=False, verbosity=0)
    assert User.objects.count() == 1


def test_argon2_is_the_first_password_hasher_of_the_real_settings():
    """The test settings put MD5 first for speed, so read the real settings in a child."""
    script = (
        "import json, django; django.setup();"
        "from django.conf import settings;"
        "from django.contrib.auth.hashers import make_password;"
        "print(json.dumps([settings.PASSWORD_HASHERS[0], make_password('x').split('$')[0]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            DJANGO_DEBUG="true",
            # Settings need a PostgreSQL URL; this child never connects to it.
            DATABASE_URL="postgres://unused@127.0.0.1:1/unused",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    hasher, prefix = json.loads(result.stdout.strip().splitlines()[-1])
    assert hasher == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert prefix == "argon2"
