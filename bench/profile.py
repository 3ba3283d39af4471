"""Where the time goes: py-spy samples every gunicorn worker during a load run.

Profiling slows the server, so these are separate runs after the measured
ones; the report shows their summary, never their speed. Samples are taken
from the thread holding the GIL (`--gil`): the Python work of the workers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
PROJECT = (
    "accounts/",
    "catalog/",
    "orders/",
    "webhooks/",
    "pricing/",
    "integrations/",
    "emails/",
    "core/",
    "config/",
)
# Package of a frame's file, coarse enough to read at a glance.
PACKAGES = [
    ("psycopg", "psycopg (database driver and waits)"),
    ("django/db/", "django ORM"),
    ("rest_framework/", "DRF"),
    ("django_filters/", "django-filter"),
    ("knox/", "knox token auth"),
    ("redis/", "redis client"),
    ("django_redis/", "django-redis"),
    ("django/core/handlers", "django request handling"),
    ("django/middleware", "django middleware"),
    ("django/", "django (other)"),
    ("gunicorn/", "gunicorn"),
    ("argon2", "password hashing"),
    ("json", "json"),
    ("logging", "logging"),
]


def py_spy() -> str | None:
    """The venv's py-spy (requirements-dev.txt), else one on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def record(*, binary: str, master_pid: int, duration_s: int, out: Path) -> subprocess.Popen:
    """Start sampling all of gunicorn's workers (collapsed stacks written to `out`)."""
    return subprocess.Popen(  # noqa: S603 - py-spy from the venv, on our own gunicorn
        [
            binary,
            "record",
            "--pid",
            str(master_pid),
            "--subprocesses",
            "--duration",
            str(duration_s),
            "--rate",
            "200",
            # Only threads holding the GIL: where the workers' CPU goes. Waits on
            # PostgreSQL and Redis inflate on a busy machine; SQL/req and the
            # slowest query's plan cover those.
            "--gil",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = FRAME.match(raw.strip())
        if match:
            frames.append((match["func"], match["file"]))
    return frames


def _short(file: str) -> str:
    for marker in ("site-packages/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1].lstrip("0123456789./")
    for prefix in PROJECT:
        idx = file.find("/" + prefix)
        if idx >= 0:
            return file[idx + 1 :]
    return file


def _package(file: str) -> str:
    short = _short(file)
    if short.startswith(PROJECT):
        return "project code (" + short.split("/", 1)[0] + ")"
    for needle, label in PACKAGES:
        if needle in short:
            return label
    return "other"


# A sample counts when the thread is serving a request; idle threads (gthread's
# pool waiting for work, psycopg_pool's workers) would drown the picture.
IN_REQUEST = "django/core/handlers/"


def summarize(collapsed: str, top: int = 12) -> str:
    """Self time by package, and the project's and libraries' hottest functions (inclusive).

    Only samples taken while a thread was inside Django's request handler count.
    """
    total = 0
    idle = 0
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        if not any(IN_REQUEST in file for _, file in frames):
            idle += count
            continue
        total += count
        func, file = frames[-1]
        by_package[_package(file)] += count
        self_time[f"{func} ({_short(file)})"] += count
        seen = set()
        for func, file in frames:
            short = _short(file)
            if short.startswith(("gunicorn/", "threading", "concurrent/")):
                continue
            key = f"{func} ({short})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += count
    if not total:
        return "no samples (py-spy saw no busy worker)"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [
        f"{total} samples inside requests ({idle} outside: idle threads, gunicorn)",
        "",
        "self time by package:",
    ]
    lines += [f"  {pct(n)}  {name}" for name, n in by_package.most_common(10)]
    lines += ["", "hottest functions, self time:"]
    lines += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    project = [(k, n) for k, n in inclusive.most_common() if k.split("(")[-1].startswith(PROJECT)]
    lines += ["", "project functions, inclusive time:"]
    lines += [f"  {pct(n)}  {name}" for name, n in project[:top]]
    lines += ["", "all functions, inclusive time (below the middleware):"]
    deep = [(k, n) for k, n in inclusive.most_common() if n < total * 0.9]
    lines += [f"  {pct(n)}  {name}" for name, n in deep[:top]]
    return "\n".join(lines)
