"""Stockroom settings, read from the environment (django-environ).

Every variable an operator may set is listed in `.env.example` and README.md.
DATABASE_URL (PostgreSQL) is required: `make run` starts an embedded PostgreSQL
and sets it (scripts/devdb.py). With no REDIS_URL the in-process cache is used
and tasks run inline: the embedded default for trying Stockroom out.
"""

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env(
        "DJANGO_SECRET_KEY", default="django-insecure-development-only-key-change-me-for-real-use"
    )
else:
    if not env("DJANGO_SECRET_KEY", default=""):
        raise ImproperlyConfigured(
            "Set the DJANGO_SECRET_KEY environment variable (production settings need it). "
            "On a development checkout run with DJANGO_DEBUG=true instead, as `make run` does: "
            "DJANGO_DEBUG=true .venv/bin/python manage.py <command>"
        )
    SECRET_KEY = env("DJANGO_SECRET_KEY")

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "core.admin_apps.StockroomAdminConfig",  # django.contrib.admin, our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "catalog",
    "orders",
    "webhooks",
    "emails",
    "pricing",
    "integrations",
    "core",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.HealthProbeMiddleware",
    # Before anything that may answer early (413, redirects), so they carry CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    # Outside everything that uses the database: a broken connection reruns the request.
    "core.database.DatabaseRetryMiddleware",
    "core.middleware.CommonMiddleware",  # Django's, but no redirect of API writes
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Current cached public product reads: after every middleware that may answer
    # early or adds a header, before those that only matter to a caller with a
    # session or token, or to writes (it serves neither).
    "catalog.api.fastpath.CatalogCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Read replicas: pins a caller who wrote, opens the back office lists' replica scope.
    "core.replicas.ReplicaMiddleware",
    "core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# PostgreSQL only: the search, the triggers and the locks are PostgreSQL's.
_database_help = (
    "Set DATABASE_URL to a PostgreSQL database, e.g. "
    "postgres://postgres@127.0.0.1:5432/stockroom. To try Stockroom, `make run` starts an "
    "embedded PostgreSQL and sets it; to run another command on that one: "
    ".venv/bin/python scripts/devdb.py exec -- .venv/bin/python manage.py <command>"
)
if not env("DATABASE_URL", default=""):
    raise ImproperlyConfigured(f"DATABASE_URL is not set. {_database_help}")
DATABASES = {"default": env.db("DATABASE_URL")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(f"DATABASE_URL is not a PostgreSQL URL. {_database_help}")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Django's psycopg 3 pool: connections are reused across requests of one
# process; CONN_MAX_AGE must stay 0 when the pool is on.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Django's backend, counting commit attempts (core.database retries requests on it).
DATABASES["default"]["ENGINE"] = "core.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
    "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
    "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
}
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
# Product search: how close a word must be to count as a typo of a name word
# (pg_trgm's `%>`, served by a trigram GIN index). pg_trgm's default, 0.6,
# misses most one-letter typos of short words ("hoddie" is 0.4 from "hoodie").
# Set per connection at startup, so it costs no query.
DATABASES["default"]["OPTIONS"]["options"] = (
    f"-c pg_trgm.word_similarity_threshold={env.float('SEARCH_TYPO_THRESHOLD', default=0.35)}"
)
# Behind PgBouncer in transaction mode (docs/scaling.md) consecutive transactions
# of one connection may run on different server sessions: nothing may outlive a
# transaction. So no named (server-side) cursors for .iterator(), and no startup
# parameters (PgBouncer refuses what it does not track): set the search threshold
# on the database instead (ALTER DATABASE ... SET, docs/scaling.md). Prepared
# statements are off already: Django binds client-side, prepare_threshold None.
DB_TRANSACTION_POOLING = env.bool("DB_TRANSACTION_POOLING", default=False)
if DB_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    del DATABASES["default"]["OPTIONS"]["options"]

# Read replicas (core/replicas.py): streaming replicas of DATABASE_URL, as
# aliases replica1, replica2, ... with the primary's engine and options. Only
# the reads that opt in go there (catalog reads, staff lists, exports); a
# caller who wrote reads the primary for REPLICA_PIN_SECONDS; a replica down
# or more than REPLICA_MAX_LAG_SECONDS behind (checked at most every
# REPLICA_CHECK_SECONDS per process) is skipped.
DATABASE_REPLICAS: list[str] = []
for _number, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    _replica = env.db_url_config(_url)
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS: entry {_number} is not PostgreSQL.")
    _alias = f"replica{_number}"
    DATABASES[_alias] = {
        **DATABASES["default"],
        **{k: _replica[k] for k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {
            **DATABASES["default"]["OPTIONS"],
            **_replica.get("OPTIONS", {}),
            "pool": {
                **DATABASES["default"]["OPTIONS"]["pool"],
                # A replica that cannot give a connection this fast is skipped.
                "timeout": env.float("REPLICA_POOL_TIMEOUT", default=2.0),
            },
        },
        # Never created, migrated or flushed by tests: it is a copy of the primary.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_REPLICAS.append(_alias)
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
REPLICA_PIN_SECONDS = env.float("REPLICA_PIN_SECONDS", default=5.0)
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=2.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
# A replica is used only once it has shown every write older than the lag
# bound plus one check interval: the pin must last at least that long.
if DATABASE_REPLICAS and REPLICA_PIN_SECONDS < REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS:
    raise ImproperlyConfigured(
        "REPLICA_PIN_SECONDS must be at least REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS: "
        "a caller's reads could otherwise reach a replica that has not shown their write."
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="stockroom"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
                # A Redis outage degrades to cache misses (logged), never a 500.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "stockroom.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "stockroom",
        }
    }

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend, but a user's permissions in one query (accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 3)
PASSWORD_RESET_URL = env(
    "PASSWORD_RESET_URL", default="http://127.0.0.1:8000/reset-password/{uid}/{token}/"
)
# Log-in lockout (API and back office, accounts/login.py): failures within the
# window that lock an account (or an unknown email), and a client address.
LOGIN_LOCKOUT_EMAIL_FAILURES = env.int("LOGIN_LOCKOUT_EMAIL_FAILURES", default=5)
LOGIN_LOCKOUT_ADDRESS_FAILURES = env.int("LOGIN_LOCKOUT_ADDRESS_FAILURES", default=50)
LOGIN_LOCKOUT_WINDOW = timedelta(minutes=env.int("LOGIN_LOCKOUT_WINDOW_MINUTES", default=15))
for _name in (
    "LOGIN_LOCKOUT_EMAIL_FAILURES",
    "LOGIN_LOCKOUT_ADDRESS_FAILURES",
    "LOGIN_LOCKOUT_WINDOW_MINUTES",
):
    if env.int(_name, default=1) < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1 (0 would lock out everyone).")

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email ------------------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 (smtp+tls:// for STARTTLS, smtp+ssl://
# for implicit TLS), consolemail:// (the default: mail printed to stdout),
# filemail:///absolute/dir, dummymail://. Django 6.1's MAILERS replaces EMAIL_*.


def _mailer_from_url(url: str) -> dict[str, Any]:
    parsed = environ.Env.email_url_config(url)
    backend: str = parsed["EMAIL_BACKEND"]
    options: dict[str, Any] = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": parsed["EMAIL_HOST"] or "localhost",
            "port": parsed["EMAIL_PORT"] or 25,
            "username": parsed["EMAIL_HOST_USER"] or "",
            "password": parsed["EMAIL_HOST_PASSWORD"] or "",
            "use_tls": bool(parsed.get("EMAIL_USE_TLS")),
            "use_ssl": bool(parsed.get("EMAIL_USE_SSL")),
            "timeout": env.float("EMAIL_TIMEOUT", default=10.0),
        }
    elif backend.endswith("filebased.EmailBackend"):
        options = {"file_path": "/" + parsed["EMAIL_FILE_PATH"].lstrip("/")}
    return {"BACKEND": backend, "OPTIONS": options}


MAILERS = {"default": _mailer_from_url(env("EMAIL_URL", default="consolemail://"))}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Stockroom <no-reply@stockroom.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Customer emails go through an outbox (emails app): a failed send is tried
# again after BASE, 2 x BASE, ... (at most MAX) seconds, EMAIL_MAX_ATTEMPTS times.
EMAIL_BACKOFF_BASE = env.float("EMAIL_BACKOFF_BASE_SECONDS", default=30.0)
EMAIL_BACKOFF_MAX = env.float("EMAIL_BACKOFF_MAX_SECONDS", default=3600.0)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=12)
EMAIL_OUTBOX_KEEP_DAYS = env.int("EMAIL_OUTBOX_KEEP_DAYS", default=30)

# --- Admin ------------------------------------------------------------------
ADMIN_URL = env("ADMIN_URL", default="admin/")
# The admin index's figures: `dashboard_for(user=...)` returns the sections a user may see.
ADMIN_DASHBOARD = "orders.dashboard.dashboard_for"

# --- Security ---------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BYTES", default=1024 * 1024)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    # No inline scripts: the admin has none and /api/docs/ loads its init script
    # from a URL (drf-spectacular's split view). Inline styles stay allowed
    # (the admin's and Swagger UI's style attributes).
    "script-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# CORS stays closed unless an allow-list opens it (django-cors-headers), and then
# only for the API (the admin stays same-origin), without credentials: API
# clients authenticate with a token header, never with cookies.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "idempotency-key", "if-none-match"]
CORS_EXPOSE_HEADERS = ["Retry-After", "Idempotent-Replayed", "X-Request-ID", "ETag"]

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox, memoised per request: the idempotency middleware already asked.
        "accounts.authentication.TokenAuthentication",
        # Integrations' API keys (`Bearer sr_...`), memoised the same way.
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    "DEFAULT_METADATA_CLASS": "core.metadata.SchemaOnlyMetadata",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's "anon" and "user" rates, in one Redis round trip (core/throttling.py).
        "core.throttling.ClientRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="600/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
        "login": env("THROTTLE_LOGIN", default="30/min"),
        "register": env("THROTTLE_REGISTER", default="10/hour"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
        # Per API key, instead of the "user" rate (core/throttling.py).
        "integration": env("THROTTLE_INTEGRATION", default="6000/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("TOKEN_TTL_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Stockroom API",
    "DESCRIPTION": "The REST API of the Stockroom commerce back office (contract v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "DeliveryErrorEnum": "webhooks.models.DeliveryError",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ReturnStatusEnum": "orders.models.ReturnStatus",
        "RefundStatusEnum": "orders.models.RefundStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.idempotency.schema_add_idempotency_header",
        "webhooks.catalogue.schema_add_event_types",
    ],
}

# --- Store ------------------------------------------------------------------
STORE_CURRENCY = env("STORE_CURRENCY", default="EUR")
SHIPPING_FLAT_RATE = env.str("SHIPPING_FLAT_RATE", default="4.90")
SHIPPING_FREE_FROM = env.str("SHIPPING_FREE_FROM", default="50.00")
# Catalog prices are gross (tax included, as EU shops show them) or net (tax added).
PRICES_INCLUDE_TAX = env.bool("PRICES_INCLUDE_TAX", default=True)
ORDER_MAX_LINES = env.int("ORDER_MAX_LINES", default=100)
ORDER_PAYMENT_TIMEOUT = timedelta(minutes=env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=30))
RETURN_WINDOW_DAYS = env.int("RETURN_WINDOW_DAYS", default=30)
ADDRESSES_PER_USER_MAX = env.int("ADDRESSES_PER_USER_MAX", default=20)
CATALOG_CACHE_TTL = env.int("CATALOG_CACHE_TTL", default=300)
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)
PAYMENT_WEBHOOK_SECRET = env("PAYMENT_WEBHOOK_SECRET", default="" if not DEBUG else "whsec_dev")
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)

# --- Logging: JSON lines on stdout, each with the request id ----------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
# Servers (gunicorn, Celery) log to stdout; manage.py sets stderr so that a
# command's stdout stays its own output (CSV, JSON lines, reports).
LOG_STREAM = env("LOG_STREAM", default="stdout")
if LOG_STREAM not in {"stdout", "stderr"}:
    raise ImproperlyConfigured("LOG_STREAM must be stdout or stderr.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        "exception_summary": {"()": "core.logging.ExceptionSummaryFilter"},
    },
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": f"ext://sys.{LOG_STREAM}",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # With Redis down every cache call fails and is logged: one line each, no traceback.
        "stockroom.cache": {"filters": ["exception_summary"]},
        # psycopg pins its own logger at WARNING; a stricter LOG_LEVEL quiets it too.
        "psycopg": {"level": max(logging.getLevelNamesMapping()[LOG_LEVEL], logging.WARNING)},
    },
}


# --- Background work (Celery) ---------------------------------------------
# The broker defaults to REDIS_URL's server on database 2; with neither set,
# tasks run inline in the calling process (the embedded default).
def _default_broker() -> str:
    if not REDIS_URL:
        return ""
    base, _, _db = REDIS_URL.rpartition("/")
    return f"{base}/2" if base.startswith("redis") else REDIS_URL


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_default_broker())
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL or env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=False
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message a dead worker had taken is handed out again after this long
    # (found by a sweep every restore interval x throttle seconds, ~100 s).
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("CELERY_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_RESTORE_THROTTLE", default=10),
    "socket_connect_timeout": 2,
    # Without it a publish on a half-open connection (failover, NAT) waits forever.
    "socket_timeout": 10,
}
# Publishes from workers and beat retry a little. Requests publish only hints
# (config.celery.task_hint): no retry, one connection attempt of
# TASK_HINT_TIMEOUT seconds, then no hint for TASK_HINT_PAUSE seconds; the
# outbox sweeps send what a lost hint would have.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
TASK_HINT_TIMEOUT = env.float("TASK_HINT_TIMEOUT", default=0.05)
TASK_HINT_PAUSE = env.float("TASK_HINT_PAUSE", default=5.0)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="stockroom")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# Celery's file-backed scheduler, stamping each message with when it was sent: a
# scheduled task runs at most once per period however many beats send it (core/periodic.py).
CELERY_BEAT_SCHEDULER = "core.periodic:Scheduler"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Both orders tasks are defined in orders/tasks.py (issue 5).
    "orders-cancel-expired": {
        "task": "orders.tasks.cancel_expired_orders",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "orders-purge-idempotency-keys": {
        "task": "core.tasks.purge_idempotency_keys",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
    },
    "emails-sweep": {
        "task": "emails.tasks.emails_sweep",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "emails-purge": {
        "task": "emails.tasks.emails_purge",
        "schedule": crontab(hour=3, minute=41),
        "options": {"expires": 3600},
    },
    "webhooks-sweep": {
        "task": "webhooks.tasks.webhooks_sweep",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Events older than EVENT_RETENTION_DAYS leave the feed (and their delivery log).
    "webhooks-events-purge": {
        "task": "webhooks.tasks.events_purge",
        "schedule": crontab(hour=3, minute=41),
        "options": {"expires": 3600},
    },
    # Failed log-ins older than the 15-minute lockout window no longer count.
    "accounts-purge-login-failures": {
        "task": "accounts.tasks.login_failures_purge",
        "schedule": crontab(minute="*/30"),
        "options": {"expires": 600},
    },
}

# --- Outgoing webhooks --------------------------------------------------------
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_RETRY_WINDOW = timedelta(hours=env.float("WEBHOOK_RETRY_WINDOW_HOURS", default=24))
WEBHOOK_BACKOFF_BASE = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=30.0)
WEBHOOK_BACKOFF_MAX = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=3 * 60 * 60.0)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=25)
# Off: deliveries go to public addresses only. On: also to loopback and private networks
# (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), for receivers on an internal network.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)

# Outbox events older than this are deleted (with their delivery log) every night.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
if EVENT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("EVENT_RETENTION_DAYS must be at least 1.")

# --- Integrations -------------------------------------------------------------
# Cursor pages by last change hold back rows changed in the last this many
# seconds before the oldest open transaction (core/cursor.py).
CURSOR_SETTLE_SECONDS = env.float("CURSOR_SETTLE_SECONDS", default=1.0)
# The key of the HMAC that API keys are stored under. Changing it invalidates
# every API key; by default it is the SECRET_KEY (so rotating that does too).
API_KEY_PEPPER = env("API_KEY_PEPPER", default=SECRET_KEY)
