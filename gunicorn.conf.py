"""Gunicorn settings for Stockroom, read from the environment.

    gunicorn -c gunicorn.conf.py config.wsgi

Threaded workers (gthread): Django views mostly wait on PostgreSQL and Redis,
so a few processes with several threads each use two cores well while the
psycopg pool keeps one small set of connections per process. Size the
database pool (DB_POOL_MAX_SIZE) at least as large as GUNICORN_THREADS.
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{_int('PORT', 8000)}")

# WEB_CONCURRENCY is the de-facto standard knob (Heroku, Render, buildpacks).
# 2 cores: 3 processes x 4 threads keep both cores busy while others wait on I/O.
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 3)
threads = _int("GUNICORN_THREADS", 4)

# A worker silent for this long (its main loop blocked, e.g. by a hung C call)
# is killed and restarted. With gthread one slow request does not trip it, so
# slow dependencies are bounded by their own timeouts (DB pool, Redis, HTTP).
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Idle keep-alive connections from the proxy in front are held this long.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then so a slow leak never takes the service down;
# the jitter stops all workers from restarting at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Not preloaded: each worker imports Django itself, so the psycopg pool and
# Redis sockets are never shared across fork, and max_requests restarts pick
# up a fresh process cleanly. The cost is a second or so of start-up per worker.
preload_app = False

# Containers: the heartbeat file lives in memory, not on an overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108

# Logs go to stdout/stderr as JSON lines; the app's own log lines carry the
# request id, and so does the access log (from the X-Request-ID response header).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logger_class = "config.gunicorn_logging.JsonAccessLogger"

# The proxy in front sets X-Forwarded-Proto; trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# No runtime control socket: nothing uses it, and the non-root container user
# has no writable home directory for it.
control_socket_disable = True
