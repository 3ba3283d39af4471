"""Drive load with wrk (Debian's package) and read its Lua done() summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class Load:
    threads: int = 1
    connections: int = 12
    timeout_s: int = 10


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    # X-Cache headers counted by get.lua's "count-cache" mode; None when not counted.
    cache_hits: int | None = None
    cache_misses: int | None = None

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors

    def as_dict(self) -> dict:
        return {**self.__dict__, "errors": self.errors}


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    return path


def wrk_version() -> str:
    proc = subprocess.run(  # noqa: S603 - wrk by its resolved path
        [wrk_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return (proc.stdout + proc.stderr).split("Copyright")[0].strip()


def parse(output: str) -> WrkResult:
    """The summary printed by bench/lua/common.lua's report() (latencies in µs)."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise ValueError(f"no {MARKER.strip()} line in wrk's output:\n{output[-2000:]}")
    duration = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    errs = raw["errors"]
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(duration, 3),
        rps=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        mean_ms=round(lat["mean"] / 1000, 3),
        max_ms=lat["max"] / 1000,
        status_errors=errs["status"],
        socket_errors=errs["connect"] + errs["read"] + errs["write"] + errs["timeout"],
        cache_hits=raw["cache"]["hit"] if "cache" in raw else None,
        cache_misses=raw["cache"]["miss"] if "cache" in raw else None,
    )


def command(
    *, base_url: str, script: str, args: list[str], duration_s: float, load: Load
) -> list[str]:
    return [
        wrk_binary(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={load.timeout_s}s",
        "-s",
        str(LUA / script),
        base_url,
        "--",
        *args,
    ]


def run(*, base_url: str, script: str, args: list[str], duration_s: float, load: Load) -> WrkResult:
    cmd = command(base_url=base_url, script=script, args=args, duration_s=duration_s, load=load)
    proc = subprocess.run(  # noqa: S603 - wrk with our own scripts, loopback only
        cmd, capture_output=True, text=True, check=False, timeout=duration_s + 60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return parse(proc.stdout)
