"""The bench's own logic (no server, no load): parsing, ratios, verdicts, scenarios."""

import pytest

from bench import profile, report, scenarios, server, wrk

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:1234
  1 threads and 12 connections
  4000 requests in 2.00s, 1.2MB read
BENCH_JSON {"duration_us": 2000000, "requests": 4000, "bytes": 1200000, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 2}, \
"latency_us": {"p50": 2500, "p90": 4000, "p99": 9000, "mean": 2800.5, "max": 20000}}
"""


def test_parse_reads_the_lua_summary_in_milliseconds():
    result = wrk.parse(WRK_OUTPUT)
    assert result.rps == 2000.0
    assert (result.p50_ms, result.p99_ms) == (2.5, 9.0)
    assert result.status_errors == 3
    assert result.socket_errors == 3
    assert result.errors == 6


def test_parse_without_the_summary_line_is_an_error():
    with pytest.raises(ValueError, match="BENCH_JSON"):
        wrk.parse("Running 2s test\n")


def _result(rps, p50=2.0, p99=5.0, errors=0):
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": 100}


def test_row_ratio_is_to_the_ceiling_of_the_same_run_and_checks_the_target():
    row = report.scenario_row(
        name="list_uncached",
        title="product list, uncached",
        target=0.30,
        result=_result(600.0),
        ceiling_rps=2000.0,
        queries=2,
        rss_peak_mb=90.0,
    )
    assert row["ratio"] == 0.3
    assert row["verdict"] == "ok"


@pytest.mark.parametrize(
    ("result", "rss", "failed"),
    [
        (_result(500.0), 90.0, "ratio"),
        (_result(900.0, errors=1), 90.0, "errors"),
        (_result(900.0), 151.0, "rss"),
        (_result(900.0, p50=2.0, p99=6.5), 90.0, "tail"),
    ],
)
def test_row_misses_on_ratio_errors_memory_or_tail(result, rss, failed):
    row = report.scenario_row(
        name="x", title="x", target=0.30, result=result, ceiling_rps=2000.0,
        queries=1, rss_peak_mb=rss,
    )  # fmt: skip
    assert row["verdict"] == "MISS"
    assert [k for k, ok in row["checks"].items() if not ok] == [failed]


def test_tail_latency_is_not_a_target_for_posts():
    row = report.scenario_row(
        name="orders", title="orders", target=0.08, result=_result(200.0, p50=10, p99=90),
        ceiling_rps=2000.0, queries=12, rss_peak_mb=100.0, method="POST",
    )  # fmt: skip
    assert "tail" not in row["checks"]
    assert row["verdict"] == "ok"


def test_skipped_row_keeps_its_note():
    row = report.scenario_row(
        name="search", title="search", target=0.15, result=None, ceiling_rps=None,
        queries=None, rss_peak_mb=None, note="not available: 404",
    )  # fmt: skip
    assert row["status"] == "skipped"
    assert "| search | - |" in report.table([row])


def _pass(ratio, rps):
    row = report.scenario_row(
        name="list_uncached", title="list", target=0.3, result=_result(rps),
        ceiling_rps=rps / ratio, queries=2, rss_peak_mb=80.0,
    )  # fmt: skip
    return {"scenarios": [row]}


def test_scaling_reports_large_over_base_and_the_80_percent_rule():
    (item,) = report.scaling(_pass(0.40, 800.0), _pass(0.30, 600.0))
    assert item["ratio_change"] == 0.75
    assert item["verdict"] == "MISS"
    (item,) = report.scaling(_pass(0.40, 800.0), _pass(0.36, 720.0))
    assert item["verdict"] == "ok"


def test_uncached_scenarios_use_distinct_urls_and_cached_ones_repeat_a_small_set():
    data = {"slugs": [f"p-{i}" for i in range(300)], "words": ["red", "blue", "green"],
            "categories": ["shoes", "hats"], "list_pages": 40, "fresh_pool": 1000}  # fmt: skip
    built = {sc.name: sc for sc in scenarios.build(data)}
    assert built["ceiling"].paths == ["/healthz"]
    assert not built["list_cached"].fresh and built["list_uncached"].fresh
    assert len(set(built["list_cached"].paths)) == 40
    uncached = built["list_uncached"].paths
    assert len(uncached) == len(set(uncached)) == 1000
    assert any("category=shoes" in p for p in uncached)
    assert any("ordering=-price" in p for p in uncached)
    assert len(set(built["detail_cached"].paths)) == 50
    assert len(set(built["detail_uncached"].paths)) == 300
    searches = built["search"].paths
    assert len(searches) == len(set(searches)) > 20
    assert all(p.startswith("/api/v1/products/?search=") for p in searches)
    assert scenarios.missing_data(built["orders"], data) == ["tokens", "skus"]


def test_parse_reads_cache_hits_counted_by_the_lua_script():
    output = WRK_OUTPUT.replace(
        '"max": 20000}}', '"max": 20000}, "cache": {"hit": 2, "miss": 3998}}'
    )
    result = wrk.parse(output)
    assert (result.cache_hits, result.cache_misses) == (2, 3998)
    assert wrk.parse(WRK_OUTPUT).cache_hits is None


def test_each_catalog_size_gets_its_own_database():
    dataset = server.Dataset(products=100_000, customers=10, orders=10)
    url = server.database_url_for("postgres://u@127.0.0.1:5432/stockroom_bench", dataset)
    assert url == "postgres://u@127.0.0.1:5432/stockroom_bench_p100000"


def test_profile_summary_ranks_packages_and_project_functions():
    wsgi = "handle (gunicorn/workers/gthread.py:10);__call__ (/v/django/core/handlers/wsgi.py:1)"
    collapsed = "\n".join([
        f"{wsgi};list (/w/catalog/api/views.py:5);"
        "execute (/v/site-packages/psycopg/cursor.py:9) 30",
        f"{wsgi};list (/w/catalog/api/views.py:5);"
        "to_representation (/v/site-packages/rest_framework/serializers.py:1) 10",
        "_worker (/usr/lib/python3.13/concurrent/futures/thread.py:3);"
        "wait (/usr/lib/python3.13/threading.py:9) 500",
    ])  # fmt: skip
    text = profile.summarize(collapsed)
    assert "40 samples inside requests (500 outside" in text
    assert " 75.0%  psycopg (database driver and waits)" in text
    assert "100.0%  list (catalog/api/views.py)" in text


def test_server_runs_with_production_settings_as_behind_one_proxy(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "true")
    env = server.server_env(database_url="postgres://x/db", redis_url="redis://x/15")
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_SETTINGS_MODULE"] == "bench.settings"
    assert env["NUM_PROXIES"] == "1"
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"] == "redis://x/15"
    assert not any(k.startswith("THROTTLE_") for k in env)
    assert server.client_address(0) == "192.0.2.1"
    assert server.client_address(5) == "203.0.113.2"


def test_smoke_check_refuses_a_report_with_an_unexplained_skip(tmp_path):
    import json

    from bench.run import verify_smoke

    ceiling = {"name": "ceiling", "status": "ran", "requests": 10, "note": ""}
    bad = {"name": "search", "status": "skipped", "note": ""}
    (tmp_path / "r.json").write_text(json.dumps({"passes": [{"scenarios": [ceiling, bad]}]}))
    (tmp_path / "r.md").write_text("| scenario |\n")
    with pytest.raises(AssertionError, match="search skipped without a reason"):
        verify_smoke(tmp_path / "r.json", tmp_path / "r.md")
    bad["note"] = "not available: 404"
    (tmp_path / "r.json").write_text(json.dumps({"passes": [{"scenarios": [ceiling, bad]}]}))
    verify_smoke(tmp_path / "r.json", tmp_path / "r.md")


def test_summary_puts_each_scenario_ratio_beside_its_target():
    base, large = _pass(0.40, 800.0), _pass(0.30, 600.0)
    report_data = {"passes": [base, large], "scaling": report.scaling(base, large)}
    (row,) = report.summary(report_data)
    assert (row["target"], row["ratio_base"], row["ratio_large"]) == (0.3, 0.4, 0.3)
    assert row["ratio_change"] == 0.75
    assert row["missed"] == "-"


def test_the_round_of_median_ratio_is_kept_with_the_peak_memory_of_all_rounds():
    from bench.run import pick_median_rounds

    def res(rps):
        return wrk.parse(WRK_OUTPUT.replace('"requests": 4000', f'"requests": {rps * 2}'))

    rounds = {
        "list": [(res(300), 1000.0, 80.0), (res(100), 1000.0, 95.0), (res(200), 1000.0, 81.0)]
    }
    results: dict = {}
    bracket, spread = pick_median_rounds(rounds, results)
    assert results["list"][0].rps == 200.0
    assert results["list"][1] == 95.0
    assert bracket == {"list": 1000.0}
    assert spread == {"list": [0.3, 0.1, 0.2]}


def test_bench_settings_are_production_settings_plus_the_bench_routes():
    import importlib

    from config.settings import base

    bench_settings = importlib.import_module("bench.settings")
    assert bench_settings.ROOT_URLCONF == "bench.urls"
    same = [name for name in dir(base) if name.isupper() and name != "ROOT_URLCONF"]
    assert all(getattr(bench_settings, n) == getattr(base, n) for n in same)
    bench_urls = importlib.import_module("bench.urls")
    routes = [str(p.pattern) for p in bench_urls.urlpatterns]
    assert routes[-2:] == ["bench/plain", "bench/admin-dashboard-uncached"]
    assert len(routes) == len(importlib.import_module("config.urls").urlpatterns) + 2


def test_admin_scenarios_run_as_staff_and_look_things_up_across_the_data():
    data = {"admin_cookie": "sessionid=abc", "admin_emails": ["hicks52", "dean53"],
            "admin_skus": ["DEMO-001463", "DEMO-002523-2"], "words": ["linen"],
            "admin_order_numbers": ["SR-7KQ2M9XD4A"], "admin_order_ids": [5, 9000],
            "admin_statuses": ["paid"], "orders_total": 20_400}  # fmt: skip
    built = {sc.name: sc for sc in scenarios.build(data) if sc.name.startswith("admin_")}
    assert len(built) == 9
    assert all(sc.cookie == "sessionid=abc" and sc.target == 0.02 for sc in built.values())
    assert built["admin_orders_p500"].paths == ["/admin/orders/order/?p=408"]  # the last page
    bigger = {sc.name: sc for sc in scenarios.build({**data, "orders_total": 200_000})}
    assert bigger["admin_orders_p500"].paths == ["/admin/orders/order/?p=500"]
    assert "/admin/orders/order/?q=hicks52" in built["admin_orders_email"].paths
    assert "/admin/orders/order/9000/change/" in built["admin_order_page"].paths
    assert "/admin/catalog/stockmovement/?q=SR-7KQ2M9XD4A" in built["admin_movements_search"].paths
    assert built["admin_dashboard"].paths == ["/bench/admin-dashboard-uncached"]
    # Without a staff session the admin scenarios are skipped with a reason.
    assert scenarios.missing_data(built["admin_orders"], {}) == ["admin_cookie"]


def test_summary_shows_each_ratio_against_the_plain_view_too():
    def row(name: str, ratio: float, target: float | None) -> dict:
        return {"name": name, "scenario": name, "status": "ran", "ratio": ratio,
                "target": target, "errors": 0, "checks": {}}  # fmt: skip

    passes = [{"scenarios": [row("ceiling", 1.0, None), row("plain", 0.8, None),
                             row("list_cached", 0.6, 0.75)]}]  # fmt: skip
    (only,) = report.summary({"passes": passes})
    assert only["scenario"] == "list_cached"
    assert only["ratio_base"] == 0.6
    assert only["ratio_plain"] == 0.75
