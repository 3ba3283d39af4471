"""Gunicorn settings for Stockroom, read from the environment.

    gunicorn -c gunicorn.conf.py config.wsgi

Threaded workers (gthread): Django views mostly wait on PostgreSQL and Redis,
so a few processes with several threads each use two cores well while the
psycopg pool keeps one small set of connections per process. Size the
database pool (DB_POOL_MAX_SIZE) at least as large as GUNICORN_THREADS.

Measured with `make bench --server-env` on 2 cores (2026-11-29, 10,000
products, one 4 s run each, twice; this machine's noise is about 20%):
3 workers x 4 threads (the default), 4x2, 2x6, 5x2 and 5x1. One thread per
process (5x1) served the CPU-bound paths (cached list, plain view) about 10%
faster, but halved search, whose requests wait tens of milliseconds on
PostgreSQL and then hold a whole process; no other count was better on every
path. On more cores, start from WEB_CONCURRENCY = cores + 1.
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

# Recycle workers now and then so a slow leak never takes the service down.
# Rarely: at ~1,000 req/s a limit of 2,000 restarted workers every few seconds,
# often several at once (multi-second stalls, cold first requests). The jitter
# is proportional (10 %) so the workers' restarts stay spread out. Memory is
# bounded directly instead, by post_request below.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)

# A worker whose resident memory grows past this finishes its in-flight
# requests and is replaced (checked every 256 requests; 0 turns it off).
max_worker_memory_mb = _int("GUNICORN_MAX_WORKER_MEMORY_MB", 140)
_MEMORY_CHECK_EVERY = 256


def worker_rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; 0.0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def post_request(worker, req, environ, resp) -> None:  # gunicorn hook
    if max_worker_memory_mb <= 0 or worker.nr % _MEMORY_CHECK_EVERY:
        return
    rss = worker_rss_mb()
    if rss > max_worker_memory_mb:
        worker.log.warning(
            "worker %s uses %.0f MB > %s MB: restarting it", worker.pid, rss, max_worker_memory_mb
        )
        worker.alive = False


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
logger_class = "core.gunicorn_logging.JsonAccessLogger"

# The proxy in front sets X-Forwarded-Proto; trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# No runtime control socket: nothing uses it, and the non-root container user
# has no writable home directory for it.
control_socket_disable = True

# Opt-in: each worker listens on its own SO_REUSEPORT socket and the kernel
# spreads new connections over them. Shared (the default), the first worker to
# wake takes a connection: 12 keep-alive clients were seen split 11/1/0 over
# three workers, one of them then CPU-bound on one core while the others idle.
# With it the split stayed within 6/4/2, and in a short bench comparison the
# runs that had collapsed (700-1,000 req/s) did not recur; the ratios did not
# improve, as /healthz gained as much. The cost: connections still queued at
# a worker that restarts (max_requests, memory, deploys) are reset, so it is
# off by default.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "").strip().lower() in ("1", "true")
