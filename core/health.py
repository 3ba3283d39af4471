"""Liveness and readiness probes (plain Django views, no DRF on this path)."""

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from core import replicas

logger = logging.getLogger("stockroom.health")


def get_only(
    view: Callable[[HttpRequest], JsonResponse],
) -> Callable[[HttpRequest], JsonResponse]:
    """Only GET; any other method is a 405 JSON error (contract: errors are JSON objects).

    Django's own decorator answers with an empty text/html body.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> JsonResponse:
        if request.method != "GET":
            response = JsonResponse(
                {
                    "code": "method_not_allowed",
                    "detail": f'Method "{request.method}" not allowed.',
                },
                status=405,
            )
            response["Allow"] = "GET"
            return response
        return view(request)

    return wrapper


@get_only
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "postgresql"


def check_database_server() -> str:
    """Connect to the server's maintenance database: the app database may not exist yet."""
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "postgresql server"


def check_cache() -> str:
    """Write and read back a value: django-redis hides outages, so a miss is a failure."""
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise ConnectionError("the cache did not return what was written")
    cache.delete(key)
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def check_broker() -> str:
    broker_url = getattr(settings, "CELERY_BROKER_URL", "")
    if not broker_url:
        return "none configured: tasks run inline"
    from kombu import Connection

    with Connection(broker_url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "reachable"


def run_checks(
    *, database_server_only: bool = False, broker: bool = True
) -> dict[str, tuple[bool, str]]:
    checks: dict[str, Callable[[], str]] = {
        "database": check_database_server if database_server_only else check_database,
        "cache": check_cache,
    }
    if broker:
        checks["broker"] = check_broker
    results = {}
    for name, check in checks.items():
        try:
            results[name] = (True, check())
        except Exception as exc:  # noqa: BLE001 - any failure means the service is down
            logger.warning("service check failed", extra={"check": name, "error": str(exc)})
            results[name] = (False, str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
    return results


def replica_states() -> dict[str, dict[str, Any]]:
    """Each read replica's state (core.replicas); a failure to check one is reported, not raised."""
    try:
        return replicas.states()
    except Exception as exc:  # noqa: BLE001 - the primary check already says why
        logger.warning("replica check failed", extra={"error": str(exc)})
        return {alias: {"state": "unknown", "lag_seconds": None} for alias in replicas.aliases()}


@get_only
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the primary and the cache answer. Replicas are listed, never a reason to fail:
    reads skip a bad one and go to the primary."""
    results = run_checks(broker=False)
    checks = {name: "ok" if ok else "error" for name, (ok, _) in results.items()}
    failing = [name for name, state in checks.items() if state != "ok"]
    extra: dict[str, Any] = {}
    if replicas.aliases() and not failing:
        extra["replicas"] = replica_states()
    if failing:
        # `code` and `detail` as in every error body (contract, Conventions).
        return JsonResponse(
            {
                "code": "unavailable",
                "detail": f"Not ready: {', '.join(failing)} failing.",
                "status": "unavailable",
                "checks": checks,
                "failing": failing,
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": checks, **extra})
