"""The bench's report: a table on stdout, and the same as JSON and Markdown files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCALE_TARGET = 0.8  # a figure at the large catalog keeps >= 80% of itself at the base size
RSS_LIMIT_MB = 150
P99_OVER_P50_LIMIT = 3.0

COLUMNS = [
    ("scenario", "scenario"),
    ("rps", "req/s"),
    ("ceiling_rps", "ceiling req/s"),
    ("ratio", "ratio"),
    ("target", "target"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("p99_over_p50", "p99/p50"),
    ("queries", "SQL/req"),
    ("errors", "errors"),
    ("rss_peak_mb", "worker RSS MB"),
    ("restarts", "worker restarts"),
    ("verdict", "verdict"),
]


def scenario_row(
    *,
    name: str,
    title: str,
    target: float | None,
    result: dict | None,
    ceiling_rps: float | None,
    queries: float | None,
    rss_peak_mb: float | None,
    restarts: int | None = None,
    note: str = "",
    method: str = "GET",
) -> dict[str, Any]:
    """One line of the table. `result` is a WrkResult.as_dict(), or None when skipped."""
    row: dict[str, Any] = {
        "name": name,
        "scenario": title,
        "method": method,
        "target": target,
        "note": note,
        "queries": queries,
        "rss_peak_mb": round(rss_peak_mb, 1) if rss_peak_mb else None,
        "restarts": restarts,
    }
    if result is None:
        return {**row, "status": "skipped", "verdict": "skipped"}
    ratio = round(result["rps"] / ceiling_rps, 3) if ceiling_rps else None
    p99_over_p50 = round(result["p99_ms"] / result["p50_ms"], 2) if result["p50_ms"] else None
    row.update(
        {
            "status": "ran",
            "rps": result["rps"],
            "ceiling_rps": round(ceiling_rps, 1) if ceiling_rps else None,
            "ratio": ratio,
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "p99_over_p50": p99_over_p50,
            "errors": result["errors"],
            "requests": result["requests"],
            "wrk": result,
        }
    )
    if target is None:  # the ceiling is the yardstick, not a candidate
        row["checks"], row["verdict"] = {}, "-"
        return row
    row["checks"] = checks(row)
    row["verdict"] = "ok" if all(row["checks"].values()) else "MISS"
    return row


def checks(row: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets for one row: ratio, errors, memory, tail latency (GETs)."""
    result: dict[str, bool] = {}
    if row.get("target") is not None and row.get("ratio") is not None:
        result["ratio"] = row["ratio"] >= row["target"]
    result["errors"] = row.get("errors", 0) == 0
    if row.get("rss_peak_mb") is not None:
        result["rss"] = row["rss_peak_mb"] < RSS_LIMIT_MB
    if row.get("method") == "GET" and row.get("p99_over_p50") is not None:
        result["tail"] = row["p99_over_p50"] <= P99_OVER_P50_LIMIT
    return result


def scaling(base: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    """How each figure changes from the base catalog to the large one (large / base)."""
    by_name = {row["name"]: row for row in base["scenarios"]}
    rows = []
    for row in large["scenarios"]:
        before = by_name.get(row["name"])
        if before is None or row["status"] != "ran" or before["status"] != "ran":
            continue

        def change(key: str, before: dict = before, row: dict = row) -> float | None:
            a, b = before.get(key), row.get(key)
            return round(b / a, 3) if a and b is not None else None

        item = {
            "name": row["name"],
            "scenario": row["scenario"],
            "ratio_base": before.get("ratio"),
            "ratio_large": row.get("ratio"),
            "ratio_change": change("ratio"),
            "rps_change": change("rps"),
            "p50_change": change("p50_ms"),
            "p99_change": change("p99_ms"),
            "queries_base": before.get("queries"),
            "queries_large": row.get("queries"),
        }
        if row["name"] != "ceiling" and item["ratio_change"] is not None:
            item["verdict"] = "ok" if item["ratio_change"] >= SCALE_TARGET else "MISS"
        else:
            item["verdict"] = ""
        rows.append(item)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]] = COLUMNS) -> str:
    """A Markdown table (also readable as plain text on a terminal)."""
    head = "| " + " | ".join(label for _, label in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


SCALING_COLUMNS = [
    ("scenario", "scenario"),
    ("ratio_base", "ratio (base)"),
    ("ratio_large", "ratio (large)"),
    ("ratio_change", "ratio large/base"),
    ("rps_change", "req/s large/base"),
    ("p50_change", "p50 large/base"),
    ("p99_change", "p99 large/base"),
    ("queries_base", "SQL (base)"),
    ("queries_large", "SQL (large)"),
    ("verdict", "verdict (>= 0.8)"),
]


def summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scenario: the ratio at each catalog size against its target."""
    passes = report["passes"]
    scale = {row["name"]: row for row in report.get("scaling") or []}
    plain: dict[str, Any] = next((r for r in passes[0]["scenarios"] if r["name"] == "plain"), {})
    rows = []
    for row in passes[0]["scenarios"]:
        if row["name"] in ("ceiling", "plain"):
            continue
        large = next((r for r in passes[-1]["scenarios"] if r["name"] == row["name"]), None)
        misses = [k for k, ok in (row.get("checks") or {}).items() if not ok]
        rows.append(
            {
                "scenario": row["scenario"],
                "target": row.get("target"),
                "ratio_base": row.get("ratio"),
                "ratio_large": large.get("ratio") if large and len(passes) > 1 else None,
                "ratio_change": scale.get(row["name"], {}).get("ratio_change"),
                "ratio_plain": round(row["ratio"] / plain["ratio"], 3)
                if row.get("ratio") and plain.get("ratio")
                else None,
                "errors": row.get("errors"),
                "missed": ", ".join(misses)
                if misses
                else ("-" if row["status"] == "ran" else "skipped"),
            }
        )
    return rows


SUMMARY_COLUMNS = [
    ("scenario", "scenario"),
    ("target", "target ratio"),
    ("ratio_base", "ratio (base)"),
    ("ratio_large", "ratio (large)"),
    ("ratio_change", "large/base"),
    ("ratio_plain", "ratio to the plain view (base, reference)"),
    ("errors", "errors"),
    ("missed", "targets missed (base)"),
]


def markdown(report: dict[str, Any]) -> str:
    machine, versions, server = report["machine"], report["versions"], report["server"]
    lines = [
        f"# Stockroom benchmark: {report['name']}",
        "",
        f"Run at {report['created_at']} (git {versions.get('git', '?')}), "
        f"{machine['cores']} cores ({machine.get('cpu', '?')}), "
        f"{machine.get('memory_gb', '?')} GB; load average before the run "
        f"{machine.get('loadavg_before', '?')}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "git") + ".",
        "",
        f"Server: gunicorn {server.get('conf')} "
        f"({server.get('worker_class', '')} workers={server.get('workers')}, "
        f"threads={server.get('threads')}), DJANGO_DEBUG=false, PostgreSQL, Redis. "
        f"Load: wrk {report['load']['threads']} thread(s), "
        f"{report['load']['connections']} connections, "
        f"{report['load']['duration_s']} s per run, each scenario between two ceiling runs, "
        f"{report['load'].get('rounds', 1)} round(s): the round of median ratio is shown.",
        "",
    ]
    lines += ["## Summary", "", table(summary(report), SUMMARY_COLUMNS), ""]
    for run in report["passes"]:
        ds = run["dataset"]
        lines += [
            f"## {ds['products']:,} products ({run.get('variants') or 0:,} variants, "
            f"{ds['customers']:,} customers, {run.get('orders') or ds['orders']:,} orders"
            + (f", {run['movements']:,} stock movements" if run.get("movements") else "")
            + ")",
            "",
            table(run["scenarios"]),
            "",
        ]
        notes = [f"- {row['scenario']}: {row['note']}" for row in run["scenarios"] if row["note"]]
        if notes:
            lines += ["Notes:", "", *notes, ""]
    if report.get("scaling"):
        lines += [
            "## How the figures change with the catalog size",
            "",
            table(report["scaling"], SCALING_COLUMNS),
            "",
        ]
    slowest = [
        (row["scenario"], q["slowest_sql"])
        for run in report["passes"][:1]
        for row in run["scenarios"]
        if (q := run.get("queries", {}).get(row["name"], {})) and q.get("slowest_sql")
    ]
    if slowest:
        lines += [
            "## The slowest query of each scenario (single request, base catalog)",
            "",
        ]
        for title, item in slowest:
            lines += [f"### {title}: {item['ms']} ms (`{item['path']}`)", "", "```sql"]
            lines += [item["sql"][:1500], "```", ""]
            if item.get("plan"):
                lines += ["```", item["plan"][:3000], "```", ""]
    for text in report.get("remarks", []):
        lines += [text, ""]
    if report.get("profile"):
        lines += ["## Profile (py-spy, separate runs)", ""]
        for name, text in report["profile"].items():
            lines += [f"### {name}", "", "```", text.strip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{report['name']}.json"
    md_path = out_dir / f"{report['name']}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
