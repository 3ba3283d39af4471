"""`make bench` / `make bench-smoke`: Stockroom's throughput as ratios to its own ceiling.

    python -m bench.run [--products N ...] [--no-large] [--profile] [--name NAME]
    python -m bench.run --smoke

For each catalog size: create, migrate and seed a database of its own
(`manage.py seed_demo`), start gunicorn with production settings on a free
loopback port, warm up, count SQL per request, then run wrk for each
scenario between two runs of the ceiling (/healthz, which the project
answers before all but its request-id middleware), so every ratio compares
runs taken minutes apart on the same server. A plain view behind every
middleware (bench/urls.py) runs as a reference, shown but not judged. A
scenario whose endpoint answers 404 is skipped with a note.
See README.md, "Benchmarks", for how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import profile as profiling
from bench import report, scenarios, server, wrk
from bench.django_side import BENCH_SHIPPING_METHOD, REPLY
from bench.scenarios import CEILING, Scenario

ROOT = server.ROOT
TMP = ROOT / "bench" / "tmp"
# The password seed_demo gives every customer it creates (catalog demo data).
DEFAULT_CUSTOMER_PASSWORD = "stockroom-demo"  # noqa: S105 - public demo data


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny data, short runs, check the report")
    p.add_argument("--name", help="report name (default: UTC time)")
    p.add_argument("--out-dir", type=Path, help="default bench/results (smoke: bench/tmp)")
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--variants", type=int, default=30_000)
    p.add_argument("--customers", type=int, default=1_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--large-products", type=int, default=100_000, help="second pass")
    p.add_argument(
        "--large-orders", type=int, default=200_000, help="second pass: orders (bulk SQL copies)"
    )
    p.add_argument(
        "--large-movements", type=int, default=700_000, help="second pass: stock-ledger rows"
    )
    p.add_argument("--no-large", action="store_true", help="skip the second, large pass")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="each scenario runs this many times between ceilings; the median ratio is kept",
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds per scenario")
    p.add_argument("--connections", type=int, default=12)
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--tokens", type=int, default=50, help="customers logged in for orders")
    p.add_argument("--skus", type=int, default=200, help="SKUs the order scenario buys")
    p.add_argument("--only", help="comma-separated scenario names (the ceiling always runs)")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. WEB_CONCURRENCY=4 (repeatable)",
    )
    p.add_argument("--profile", action="store_true", help="py-spy each scenario afterwards")
    p.add_argument("--profile-duration", type=int, default=8)
    p.add_argument("--fresh", action="store_true", help="re-seed even if the database matches")
    p.add_argument(
        "--customer-password",
        default=os.environ.get("BENCH_CUSTOMER_PASSWORD", DEFAULT_CUSTOMER_PASSWORD),
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom_bench"
        ),
        help="base name: each catalog size gets <name>_p<products>",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="a Redis database the bench owns: it is flushed before each pass",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.products, args.variants, args.customers, args.orders = 60, 180, 5, 20
        args.no_large = True
        args.duration, args.warmup = min(args.duration, 1.0), min(args.warmup, 1.0)
        args.rounds = 1
        args.tokens, args.skus = 5, 20
        args.name = args.name or "smoke"
        args.out_dir = args.out_dir or TMP / "smoke"
    args.out_dir = (args.out_dir or ROOT / "bench" / "results").resolve()
    args.name = args.name or datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return args


# --- helpers that talk to the running server ----------------------------------


def login_all(base_url: str, emails: list[str], password: str) -> tuple[list[str], str]:
    """Log customers in through the API; returns their tokens and a note on failures."""

    def one(n: int, email: str) -> tuple[int, bytes]:
        # Each customer logs in from an address of its own, as customers do.
        return server.http_post(
            base_url + "/api/v1/auth/login/",
            {"email": email, "password": password},
            headers={"X-Forwarded-For": server.client_address(n)},
        )

    tokens, failures = [], []
    status, body = one(0, emails[0])  # one first: a 404 or a wrong password stops here
    answers = [(status, body)]
    if status == 200 and len(emails) > 1:
        # Password hashing is slow on purpose: log in with all the server's workers.
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers += list(pool.map(one, range(1, len(emails)), emails[1:]))
    for status, body in answers:
        if status == 200:
            tokens.append(json.loads(body)["token"])
        else:
            failures.append(f"{status} {body[:120]!r}")
    note = f"login failed ({failures[0]})" if failures and not tokens else ""
    return tokens, note


def probe(base_url: str, scenario: Scenario) -> str:
    """'' when the endpoint exists, else why the scenario is skipped."""
    if scenario.method == "POST":
        status, _ = server.http_post(base_url + scenario.probe, {})
    else:
        status, _ = server.http_get(base_url + scenario.probe, timeout=30)
    if status == 404:
        return f"not available: {scenario.probe} answers 404"
    if status == 405:
        return f"not available: {scenario.probe} answers 405 to {scenario.method}"
    return ""


def query_plan(
    todo: list[Scenario], data: dict, password_tokens: list[str]
) -> dict[str, list[dict]]:
    plan: dict[str, list[dict]] = {}
    for sc in todo:
        if sc.method == "POST":
            plan[sc.name] = [
                {
                    "method": "POST",
                    "path": sc.probe,
                    "body": {
                        "lines": [{"sku": data["skus"][i % len(data["skus"])], "quantity": 1}],
                        "shipping_address": {
                            "full_name": "Bench Customer",
                            "line1": "1 Load Street",
                            "city": "Berlin",
                            "postal_code": "10115",
                            "country": "DE",
                        },
                        "shipping_method": BENCH_SHIPPING_METHOD,
                    },
                    "headers": {
                        "authorization": f"Token {password_tokens[0]}",
                        "idempotency-key": f"bench-queries-{time.time_ns()}-{i}",
                    },
                }
                for i in range(3)
            ]
            continue
        # Uncached: a path from the end of the pool, right after an invalidation
        # (a true miss); cached: a path asked for once before (a hit).
        sample = sc.paths[-5:] if sc.fresh else sc.paths[:5]
        plan[sc.name] = [
            {
                "method": "GET",
                "path": path,
                "prime": not sc.fresh,
                "invalidate": sc.fresh,
                "headers": {"cookie": sc.cookie} if sc.cookie else {},
            }
            for path in sample
        ]
    return plan


class DjangoSide:
    """bench.django_side in a process of its own, with the server's environment."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.django_side"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def call(self, command: str, **kwargs: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"command": command, **kwargs}) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(REPLY):
                reply = json.loads(line[len(REPLY) :])
                if not reply["ok"]:
                    raise RuntimeError(f"bench.django_side {command}: {reply['error']}")
                return reply["result"]
        raise RuntimeError(f"bench.django_side exited; see {self.log.name}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- one pass: one catalog size ------------------------------------------------


class Pass:
    def __init__(self, args: argparse.Namespace, dataset: server.Dataset, label: str) -> None:
        self.args = args
        self.dataset = dataset
        self.label = label
        self.work = TMP / f"{args.name}-{label}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.load = wrk.Load(threads=args.threads, connections=args.connections)
        self.url = server.database_url_for(args.database_url, dataset)
        extra = dict(item.split("=", 1) for item in args.server_env)
        self.env = server.server_env(database_url=self.url, redis_url=args.redis_url, extra=extra)
        self.gunicorn = server.Gunicorn(env=self.env, log_path=self.work / "gunicorn.log")
        self.sampler = server.RssSampler(self.gunicorn)
        self.restarts: dict[str, int] = {}
        self.django: DjangoSide | None = None

    def wrk_args(self, sc: Scenario, run_id: str) -> tuple[str, list[str]]:
        if sc.method == "POST":
            return "post_orders.lua", [
                str(self.work / "tokens.txt"),
                str(self.work / "skus.txt"),
                run_id,
                sc.probe,
            ]
        paths_file = self.work / f"{sc.name}.paths"
        args = [str(paths_file), "count-cache" if sc.fresh else "-"]
        if sc.cookie:
            args.append(sc.cookie)
        return "get.lua", args

    def ready(self, sc: Scenario) -> None:
        """Uncached: no entry left from before; cached: every path already stored."""
        if sc.fresh:
            assert self.django is not None
            self.django.call("invalidate")
        elif sc.name != CEILING and sc.method == "GET" and not sc.cookie:
            slow = []
            for path in sc.paths:
                started = time.monotonic()
                try:
                    server.http_get(self.gunicorn.base_url + path, timeout=30)
                except OSError as exc:
                    slow.append(f"{path}: {exc}")
                if time.monotonic() - started > 5:
                    slow.append(f"{path}: {time.monotonic() - started:.1f}s")
            if slow:
                log(f"priming {sc.name}: slow or failed: {slow[:3]}")

    def drive(self, sc: Scenario, seconds: float, run_id: str) -> tuple[wrk.WrkResult, float]:
        """One wrk run; returns its result and the peak worker RSS (MB) during it."""
        self.ready(sc)
        # Every wrk run numbers its requests from 1: a run id of its own keeps
        # each Idempotency-Key unique across rounds.
        script, script_args = self.wrk_args(sc, f"{run_id}-{time.time_ns()}")
        with self.sampler.sampling() as sampled:
            result = wrk.run(
                base_url=self.gunicorn.base_url,
                script=script,
                args=script_args,
                duration_s=seconds,
                load=self.load,
            )
        self.restarts[sc.name] = self.restarts.get(sc.name, 0) + sampled.restarts
        return result, sampled.peak

    def run(self) -> dict[str, Any]:
        args = self.args
        seed_status = server.prepare_database(
            url=self.url, env=self.env, dataset=self.dataset, fresh=args.fresh, log=log
        )
        server.redis_flushdb(args.redis_url)
        server.collect_static(self.env)
        self.django = DjangoSide(self.env, self.work / "django_side.log")
        try:
            data = self.django.call(
                "prepare", skus=args.skus, customers=args.tokens, seed=args.seed
            )
            (self.work / "data.json").write_text(json.dumps(data))
            return self._serve(data, seed_status)
        finally:
            self.django.close()

    def _serve(self, data: dict, seed_status: str) -> dict[str, Any]:
        log(
            f"data: {data.get('published_products', 0)} published products, "
            f"{len(data.get('customer_emails', []))} customers to log in"
        )
        self.gunicorn.start()
        try:
            return self._measure(data, seed_status)
        finally:
            self.gunicorn.stop()

    def _measure(self, data: dict, seed_status: str) -> dict[str, Any]:
        args = self.args
        base = self.gunicorn.base_url
        log(f"gunicorn on {base}: {self.gunicorn.settings()}")
        tokens: list[str] = []
        login_note = ""
        if data.get("customer_emails"):
            tokens, login_note = login_all(base, data["customer_emails"], args.customer_password)
        data["tokens"] = tokens
        (self.work / "tokens.txt").write_text("\n".join(tokens) + "\n")
        (self.work / "skus.txt").write_text("\n".join(data.get("skus", [])) + "\n")

        all_scenarios = scenarios.build(data, seed=args.seed)
        only = set(args.only.split(",")) if args.only else None
        todo: list[Scenario] = []
        skipped: dict[str, str] = {}
        for sc in all_scenarios:
            if sc.name == CEILING:
                continue
            if only is not None and sc.name not in only:
                continue
            note = probe(base, sc)
            missing = scenarios.missing_data(sc, data)
            if not note and missing:
                note = f"no data: {', '.join(missing)} missing" + (
                    f" ({login_note})" if login_note and "tokens" in missing else ""
                )
            if note:
                skipped[sc.name] = note
                log(f"skip {sc.name}: {note}")
            else:
                todo.append(sc)
            if sc.paths:
                (self.work / f"{sc.name}.paths").write_text("\n".join(sc.paths) + "\n")
        ceiling = all_scenarios[0]
        (self.work / f"{CEILING}.paths").write_text("/healthz\n")
        run_id = f"{args.name}-{self.label}-{int(time.time())}"

        log(f"warming up ({args.warmup:.0f}s per scenario)")
        for sc in [ceiling, *todo]:
            self.drive(sc, args.warmup, run_id + "-warm")

        plan = query_plan([ceiling, *todo], data, tokens or ["-"])
        assert self.django is not None
        queries = self.django.call("queries", plan=plan)
        (self.work / "queries.json").write_text(json.dumps(queries, indent=1))
        bulk = self.django.call("bulk_stock", items=1000, rounds=3 if args.smoke else 7)

        self.restarts.clear()
        results: dict[str, tuple[wrk.WrkResult, float]] = {}
        ceilings: list[wrk.WrkResult] = []
        rss: dict[str, float] = {}
        log(
            f"measuring: {len(todo)} scenarios x {args.rounds} rounds, "
            f"{args.duration:.0f}s each, between ceilings"
        )
        first, peak = self.drive(ceiling, args.duration, run_id)
        ceilings.append(first)
        rss[CEILING] = peak
        rounds: dict[str, list[tuple[wrk.WrkResult, float, float]]] = {sc.name: [] for sc in todo}
        for _ in range(args.rounds):
            for sc in todo:
                res, sc_peak = self.drive(sc, args.duration, run_id)
                after, peak = self.drive(ceiling, args.duration, run_id)
                rss[CEILING] = max(rss[CEILING], peak)
                around = (ceilings[-1].rps + after.rps) / 2
                ceilings.append(after)
                rounds[sc.name].append((res, around, sc_peak))
                log(
                    f"{sc.name}: {res.rps:.0f} req/s vs ceiling {around:.0f} "
                    f"(p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms, errors {res.errors})"
                )
        bracket, spread = pick_median_rounds(rounds, results)
        ceiling_result = _mean_result(ceilings)

        rows = [
            report.scenario_row(
                name=CEILING,
                title=ceiling.title,
                target=None,
                result=ceiling_result.as_dict(),
                ceiling_rps=ceiling_result.rps,
                queries=queries.get(CEILING, {}).get("queries_median"),
                rss_peak_mb=rss[CEILING],
                restarts=self.restarts.get(CEILING, 0),
                note=f"mean of {len(ceilings)} runs, "
                f"{min(c.rps for c in ceilings):.0f}-{max(c.rps for c in ceilings):.0f} req/s",
            )
        ]
        for sc in all_scenarios[1:]:
            if only is not None and sc.name not in only:
                continue
            q = queries.get(sc.name, {})
            note = skipped.get(sc.name, "")
            if len(spread.get(sc.name, [])) > 1:
                note = "ratio per round " + ", ".join(f"{r:.3f}" for r in spread[sc.name])
            statuses = q.get("statuses") or {}
            bad = {s: n for s, n in statuses.items() if not s.startswith("2")}
            if bad:
                note = f"query-count requests answered {bad}"
            if sc.fresh and q.get("queries_median") == 0:
                note = (note + "; " if note else "") + "uncached path ran no SQL"
            measured = results.get(sc.name)
            hits = measured[0].cache_hits if measured else None
            if sc.fresh and hits:
                share = hits / max(1, measured[0].requests) if measured else 0
                note = (note + "; " if note else "") + f"{share:.1%} of requests hit the cache"
            result = measured[0] if measured else None
            worker_rss = measured[1] if measured else None
            rows.append(
                report.scenario_row(
                    name=sc.name,
                    title=sc.title,
                    target=sc.target,
                    result=result.as_dict() if result else None,
                    ceiling_rps=bracket.get(sc.name),
                    queries=q.get("queries_median"),
                    rss_peak_mb=worker_rss,
                    restarts=self.restarts.get(sc.name) if measured else None,
                    note=note,
                    method=sc.method,
                )
            )
        profile = self._profile(todo, run_id) if args.profile and self.label == "base" else {}
        return {
            "label": self.label,
            "dataset": self.dataset.__dict__,
            "database": self.url.rsplit("/", 1)[-1],
            "seed_status": seed_status,
            "published_products": data.get("published_products"),
            "variants": data.get("variants"),
            "orders": data.get("orders_total"),
            "movements": data.get("movements_total"),
            "server": self.gunicorn.settings(),
            "scenarios": rows,
            "ceiling_runs": [c.as_dict() for c in ceilings],
            "queries": queries,
            "profile": profile,
            "bulk_stock": bulk,
        }

    def _profile(self, todo: list[Scenario], run_id: str) -> dict[str, str]:
        binary = profiling.py_spy()
        if binary is None or self.gunicorn.process is None:
            log("py-spy not found: no profile")
            return {}
        summaries = {}
        seconds = self.args.profile_duration
        for sc in todo:
            out = self.work / f"profile-{sc.name}.txt"
            recorder = profiling.record(
                binary=binary, master_pid=self.gunicorn.process.pid, duration_s=seconds, out=out
            )
            time.sleep(0.5)
            self.drive(sc, seconds, run_id + "-profile")
            _, err = recorder.communicate(timeout=seconds + 60)
            text = out.read_text() if out.exists() else ""
            summaries[sc.title] = profiling.summarize(text) if text else f"py-spy failed: {err}"
            log(f"profiled {sc.name}")
        return summaries


def pick_median_rounds(
    rounds: dict[str, list[tuple[wrk.WrkResult, float, float]]],
    results: dict[str, tuple[wrk.WrkResult, float]],
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Keep each scenario's round of median ratio (the lower one for an even count).

    Fills `results` with (that round's wrk result, the peak RSS over all rounds);
    returns the ceiling of that round and every round's ratio, per scenario.
    """
    bracket: dict[str, float] = {}
    spread: dict[str, list[float]] = {}
    for name, runs in rounds.items():
        if not runs:
            continue
        ratios = [res.rps / around if around else 0.0 for res, around, _ in runs]
        order = sorted(range(len(runs)), key=ratios.__getitem__)
        chosen = order[(len(order) - 1) // 2]
        results[name] = (runs[chosen][0], max(peak for _, _, peak in runs))
        bracket[name] = runs[chosen][1]
        spread[name] = [round(r, 3) for r in ratios]
    return bracket, spread


def _mean_result(runs: list[wrk.WrkResult]) -> wrk.WrkResult:
    n = len(runs)
    return wrk.WrkResult(
        requests=sum(r.requests for r in runs),
        duration_s=round(sum(r.duration_s for r in runs), 3),
        rps=round(sum(r.rps for r in runs) / n, 1),
        p50_ms=round(sum(r.p50_ms for r in runs) / n, 3),
        p90_ms=round(sum(r.p90_ms for r in runs) / n, 3),
        p99_ms=round(sum(r.p99_ms for r in runs) / n, 3),
        mean_ms=round(sum(r.mean_ms for r in runs) / n, 3),
        max_ms=max(r.max_ms for r in runs),
        status_errors=sum(r.status_errors for r in runs),
        socket_errors=sum(r.socket_errors for r in runs),
    )


# --- machine and versions --------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def versions(database_url: str, redis_url: str) -> dict[str, str]:
    from importlib.metadata import version

    import psycopg
    import redis

    found = {"python": platform.python_version()}
    for dist in ("django", "djangorestframework", "gunicorn", "psycopg", "django-redis", "orjson"):
        try:
            found[dist] = version(dist)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            found[dist] = "absent"
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        found["postgresql"] = row[0].split()[0] if row else "?"
    client = redis.Redis.from_url(redis_url)
    found["redis"] = str(client.info("server").get("redis_version"))
    client.close()
    found["wrk"] = wrk.wrk_version()
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found["git"] = git.stdout.strip() or "?"
    return found


def verify_smoke(json_path: Path, md_path: Path) -> None:
    """bench-smoke's assertion: it ran and wrote a complete report (not how fast)."""
    assert json_path.exists() and md_path.exists(), "the report files were not written"
    data = json.loads(json_path.read_text())
    (run,) = data["passes"]
    rows = {row["name"]: row for row in run["scenarios"]}
    assert rows[CEILING]["status"] == "ran" and rows[CEILING]["requests"] > 0, "ceiling did not run"
    for row in rows.values():
        assert row["status"] == "ran" or row["note"], f"{row['name']} skipped without a reason"
    assert "| scenario |" in md_path.read_text(), "the Markdown report has no table"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    wrk.wrk_binary()
    started = time.monotonic()
    base = server.Dataset(
        products=args.products,
        variants=args.variants,
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
    )
    full: dict[str, Any] = {
        "name": args.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(args.database_url, args.redis_url),
        "load": {
            **wrk.Load(args.threads, args.connections).__dict__,
            "duration_s": args.duration,
            "rounds": args.rounds,
        },
        "uncached": "distinct URLs, catalog cache invalidated once before each run",
        "passes": [],
    }
    datasets = [("base", base)]
    if not args.no_large:
        factor = args.large_products / args.products
        large = server.Dataset(
            products=args.large_products,
            variants=round(args.variants * factor),
            customers=args.customers,
            orders=args.orders,
            seed=args.seed,
            orders_total=args.large_orders,
            movements_total=args.large_movements,
        )
        datasets.append(("large", large))
    for label, dataset in datasets:
        log(f"pass {label}: {dataset.label}")
        full["passes"].append(Pass(args, dataset, label).run())
    full["server"] = full["passes"][0]["server"]
    if len(full["passes"]) == 2:
        full["scaling"] = report.scaling(*full["passes"])
    full["profile"] = full["passes"][0].get("profile") or {}
    full["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    busy = full["machine"]["loadavg_before"][0]
    full["remarks"] = (
        [
            f"The machine was busy before the run (load average {busy} on "
            f"{full['machine']['cores']} cores): other processes shared the CPU, so req/s "
            "are low and noisy; the ratios, taken minutes apart on the same server, "
            "are the figures to read."
        ]
        if busy > 0.5 * (os.cpu_count() or 1)
        else []
    )
    for run in full["passes"]:
        if bulk := run.get("bulk_stock"):
            full["remarks"].append(
                f"Bulk stock at {run['dataset']['products']:,} products: "
                f"{bulk['items']:,} SKUs (half set_to, half delta) in one "
                f"stock_bulk_apply call (the service behind POST stock/bulk-adjustments/): "
                f"median {bulk['median_ms']} ms, slowest {bulk['max_ms']} ms over "
                f"{bulk['rounds']} rounds, while the server was idle."
            )
    for run in full["passes"]:
        restarts = sum(row.get("restarts") or 0 for row in run["scenarios"])
        if restarts:
            full["remarks"].append(
                f"At {run['dataset']['products']:,} products gunicorn replaced workers "
                f"{restarts} times during the measured runs (max_requests="
                f"{run['server'].get('max_requests')}): each new worker imports Django and "
                "serves its first requests cold, which shows in p99."
            )
    full["elapsed_s"] = round(time.monotonic() - started)
    json_path, md_path = report.write(full, args.out_dir)
    for run in full["passes"]:
        print(f"\n{run['dataset']['products']:,} products\n")
        print(report.table(run["scenarios"]))
    if full.get("scaling"):
        print("\nlarge / base\n")
        print(report.table(full["scaling"], report.SCALING_COLUMNS))
    shown = md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path
    print(f"\nreport: {shown} and {json_path.name} ({full['elapsed_s']}s)")
    if args.smoke:
        verify_smoke(json_path, md_path)
        print("bench-smoke: ran and wrote a complete report")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
