"""Credentials at rest: token digests only, Argon2id passwords, no secret in the repository."""

import re
import subprocess
from pathlib import Path

import pytest
from django.db import connection
from knox.crypto import hash_token
from knox.models import AuthToken

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.foundation.procs import PYTHON, ROOT, production_env
from tests.fuzz.live import LiveServer, call

# --- tokens -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_only_a_digest_of_a_login_token_is_stored(api_client):
    user = UserFactory()
    response = api_client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    raw = response.json()["token"]
    stored = AuthToken.objects.get(user=user)
    assert stored.digest == hash_token(raw)
    assert raw not in stored.digest
    # The only clear part is knox's lookup prefix, far too short to authenticate.
    assert raw.startswith(stored.token_key) and len(stored.token_key) < len(raw) // 2

    # Nowhere in the database: a dump of every table (data only) holds no copy of it.
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--host",
            connection.settings_dict["HOST"] or "127.0.0.1",
            "--port",
            str(connection.settings_dict["PORT"] or 5432),
            "--username",
            connection.settings_dict["USER"] or "postgres",
            connection.settings_dict["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert stored.digest in dump  # the dump did read the token table
    assert raw not in dump


# --- passwords --------------------------------------------------------------


def test_production_settings_hash_passwords_with_argon2id():
    script = (
        "import django; django.setup();"
        "from django.contrib.auth.hashers import make_password, get_hasher;"
        "print(get_hasher().algorithm, make_password('correct horse').split('$')[1])"
    )
    result = subprocess.run(
        [PYTHON, "-c", script],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["argon2", "argon2id"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_registration_on_the_production_server_stores_an_argon2id_hash(server: LiveServer):
    reply = call(
        server,
        "/api/v1/auth/register/",
        method="POST",
        json_body={"email": "argon@example.com", "password": "a-Long-unusual-passphrase-42"},
    )
    assert reply.status == 201, reply.body
    from django.contrib.auth import get_user_model

    stored = get_user_model().objects.get(email="argon@example.com").password
    assert stored.startswith("argon2$argon2id$")
    assert "a-Long-unusual-passphrase-42" not in stored


# --- the repository ---------------------------------------------------------

# Kinds of secret recognisable by their shape, anywhere.
PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\S{16,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}
# Values next to a name that says "secret": quoted literals on such a line, KEY=value
# assignments (shell, compose, Dockerfile, .env), and passwords inside URLs.
_NAME = r"\w*(?:password|passwd|secret|api_key)\w*"
# NAME = "value", "name": "value", name="value"
DIRECT = re.compile(rf"(?i)\b{_NAME}[\"']?\s*[:=]\s*[rbf]?[\"']([^\"'\s]{{8,}})[\"']")
# env("NAME", default="value"), setdefault("NAME", "value"), default="" if ... else "value"
ENV_DEFAULT = re.compile(
    r"[\"'][A-Z_]*(?:PASSWORD|PASSWD|SECRET|API_KEY)[A-Z_]*[\"']\s*,\s*"
    r"(?:default\s*=\s*)?(?:[^,)\n]*?\belse\s+)?"
    r"[\"']([^\"'\s]{8,})[\"']"
)
ENV_ASSIGNMENT = re.compile(r"\b\w*(?:PASSWORD|SECRET|SECRET_KEY|API_KEY)=([^\s\"'$`{}]{8,})")
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^/\s:@'\"$]{3,})@")
# Names and placeholders rather than values.
NOT_A_VALUE = re.compile(
    r"[A-Z][A-Z0-9_]*"  # an environment variable's name
    r"|(?i:\w*_(?:password|secret|passwd)\w*|(?:password|secret|passwd)[_0-9]\w*)"  # a name
    r"|[\w]+(?:\.[\w]+)+"  # a dotted path
    r"|(?i:password|pass|secret|changeme|x{3,})"  # a placeholder
    r"|.*(?:\.\*|\{|\}).*"  # a pattern or a template
)
# The documented development, demo and CI defaults, each with its reason.
ALLOWED = {
    # settings: used only with DJANGO_DEBUG=true; production requires the variables.
    ("config/settings/base.py", "django-insecure-development-only-key-change-me-for-real-use"),
    ("config/settings/base.py", "whsec_dev"),
    # test settings: the test run's own key and webhook secret, never deployed.
    ("config/settings/test.py", "test-secret-key-not-for-production-0123456789abcdef"),
    ("config/settings/test.py", "whsec_test"),
    # the image runs collectstatic at build time, which needs some key; never served.
    ("Dockerfile", "collectstatic-build-only-not-a-secret"),
    # CI's production-settings checks against throwaway loopback services.
    (".ci/run", "ci-webhook-secret"),
    (".ci/run", "ci-password"),
    # the benchmark's own throwaway server on loopback.
    ("bench/server.py", "bench-webhook-secret"),
    # the public password of the local demo data, printed by the commands.
    ("core/management/commands/demo_setup.py", "stockroom-demo"),
    ("orders/management/commands/seed_demo.py", "stockroom-demo"),
    ("bench/run.py", "stockroom-demo"),
    ("README.md", "stockroom-demo"),  # the demo account make run prints
    # docker compose's local PostgreSQL, reachable only inside the compose network.
    (".env.example", "stockroom"),
}
SKIPPED_DIRS = ("tests/",)  # test data is made up by definition


def _line_findings(line: str) -> list[tuple[str, str]]:
    found = [(kind, m.group(0)) for kind, p in PATTERNS.items() for m in p.finditer(line)]
    candidates = [("password in a URL", m.group(1)) for m in URL_PASSWORD.finditer(line)]
    candidates += [("secret assignment", m.group(1)) for m in ENV_ASSIGNMENT.finditer(line)]
    for pattern in (DIRECT, ENV_DEFAULT):
        candidates += [("hard-coded secret", m.group(1)) for m in pattern.finditer(line)]
    found += [(kind, value) for kind, value in candidates if not NOT_A_VALUE.fullmatch(value)]
    return found


def scan(files: list[str], root: Path) -> list[tuple[str, int, str, str]]:
    findings = []
    for name in files:
        if name.startswith(SKIPPED_DIRS):
            continue
        try:
            text = (root / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, value in _line_findings(line):
                if (name, value) not in ALLOWED:
                    findings.append((name, number, kind, value))
    return findings


def _tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=30, check=True
    )
    return [name for name in result.stdout.decode().split("\0") if name]


def test_no_secret_or_credential_is_committed():
    files = _tracked_files()
    assert len(files) > 100
    findings = scan(files, ROOT)
    assert findings == [], "\n".join(map(str, findings))


def test_every_allow_list_entry_is_still_needed():
    present = {(name, value) for name, _, _, value in _scan_all(_tracked_files())}
    assert sorted(ALLOWED - present) == []


def _scan_all(files: list[str]) -> list[tuple[str, int, str, str]]:
    global ALLOWED
    saved, ALLOWED = ALLOWED, set()
    try:
        return scan(files, ROOT)
    finally:
        ALLOWED = saved


@pytest.mark.parametrize(
    "line",
    [
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "SMTP_PASSWORD = 'hunter2hunter2'",
        'env("API_SECRET", default="s3cr3t-value")',
        "DATABASE_URL=postgres://admin:letmein@db.internal/app",
        "  POSTGRES_PASSWORD=supersecret",
        "token = 'ghp_" + "a" * 36 + "'",
    ],
)
def test_the_scanner_finds_each_kind_of_secret(tmp_path, line):
    (tmp_path / "settings.py").write_text(line + "\n")
    assert scan(["settings.py"], tmp_path) != []
