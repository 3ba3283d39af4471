"""Schema fuzzing: schemathesis against the live OpenAPI schema of a live gunicorn.

Every operation of the schema is called as an anonymous client, a customer and
a staff member, with generated valid and invalid data (schemathesis' examples,
coverage and fuzzing phases), and every response is checked:

- not_a_server_error: never a 5xx, whatever the input;
- status_code_conformance: the status is one the schema documents;
- response_schema_conformance: the body matches the documented schema;
- negative_data_rejection: data the schema says is invalid is refused (4xx);
- ignored_auth: an operation that requires authentication refuses a request
  without it or with a wrong token.

The number of examples per operation is bounded (FUZZ_MAX_EXAMPLES, default
small enough for CI); `make fuzz` runs the same with many more and a random seed.
"""

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from hypothesis import example, find, given
from hypothesis import strategies as st

from core import idempotency
from orders import payments
from tests.foundation.procs import PYTHON, ROOT, child_env
from tests.fuzz import hooks
from tests.fuzz.live import LiveServer, call, live_server
from tests.fuzz.seed import world_build

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
SEED = os.environ.get("FUZZ_SEED", "20261129")  # "" for a random seed (make fuzz)
REPORT_PATH = os.environ.get("FUZZ_REPORT", "")
# The coverage phase (boundary and invalid values for every field, a few thousand
# cases per caller) is the slow part: in CI it runs for staff, who can reach every
# operation; `make fuzz` runs it for every caller (FUZZ_COVERAGE_ALL=1).
COVERAGE_ALL = os.environ.get("FUZZ_COVERAGE_ALL") == "1"
# Operations that end the caller's session: fuzzed in a run of their own, last,
# so that the other operations are not all answered "401 token revoked".
SESSION_ENDING = "^/api/v1/auth/logout"
# Hostile Payment-Signature and Idempotency-Key values, beyond what the schema yields.
HOOKS = "tests.fuzz.hooks"


def schemathesis_run(
    server: LiveServer,
    *,
    caller: str,
    token: str | None,
    report_dir: Path,
    extra: tuple[str, ...] = (),
    phases: str = "examples,coverage,fuzzing",
) -> tuple[int, str, dict[str, int]]:
    junit = report_dir / f"{caller}.xml"
    args = [
        str(Path(PYTHON).parent / "st"),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        server.url("/api/schema/?format=json"),
        "--checks",
        ",".join(CHECKS),
        "--phases",
        phases,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        # Hypothesis' too_slow check times data generation on the wall clock, which a
        # busy machine (the suite's other xdist worker) stretches: the seed is fixed,
        # so the checks that depend only on the data (filter_too_much,
        # data_too_large, large_base_example) still run and fail as before.
        "--suppress-health-check",
        "too_slow",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        *(("--seed", SEED) if SEED else ()),
        *(("-H", f"Authorization: Token {token}") if token else ()),
        *extra,
    ]
    result = subprocess.run(
        args,
        cwd=ROOT,
        env=child_env(SCHEMATHESIS_HOOKS=HOOKS),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    counts = {"operations": 0, "failures": 0, "cases": int(generated.group(1)) if generated else 0}
    if junit.exists():
        # The report schemathesis just wrote for us, not untrusted input.
        for suite in ET.parse(junit).getroot().iter("testsuite"):  # noqa: S314
            counts["operations"] += int(suite.get("tests", 0))
            counts["failures"] += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return result.returncode, output, counts


def test_the_hooks_know_the_servers_header_rules():
    """The hooks run outside Django, so they carry copies of these rules: the same ones."""
    assert (hooks.IDEMPOTENCY_KEY, hooks.KEY_MAX_LENGTH) == (
        idempotency.HEADER,
        idempotency.KEY_MAX_LENGTH,
    )
    assert hooks.SIGNATURE_PATTERN == payments.SIGNATURE_PATTERN


def test_the_hooks_send_hostile_signatures_and_keys_the_schema_calls_valid():
    valid = {"Payment-Signature": f"t=1700000000,v1={'a' * 64}", "Idempotency-Key": "k"}
    strategy = hooks.flatmap_headers(None, valid)
    hostile = find(
        strategy,
        lambda headers: (
            not re.fullmatch(payments.SIGNATURE_PATTERN, headers["Payment-Signature"])
            and len(headers["Idempotency-Key"]) > idempotency.KEY_MAX_LENGTH
        ),
    )
    assert all(hooks.sendable(value) for value in hostile.values())
    # A header schemathesis made invalid on purpose is left as it is.
    assert find(hooks.flatmap_headers(None, {"Idempotency-Key": ""}), lambda _: True) == {
        "Idempotency-Key": ""
    }


@pytest.mark.slow
def test_a_fresh_server_serves_the_schema_to_concurrent_first_callers(
    django_db_setup, django_db_blocker, live_static_root: Path, tmp_path: Path
):
    """drf-spectacular's lazy state is not thread-safe: the view builds under a lock.

    Without it, the first concurrent requests of a new gthread worker answered 500.
    """
    with (
        django_db_blocker.unblock(),
        live_server(
            static_root=live_static_root, log_path=tmp_path / "fresh.log", workers=1, threads=8
        ) as fresh,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        # A generous client timeout: under load (the other xdist worker) the first build
        # takes longer than a request usually may; a 500 is still a 500.
        statuses = list(
            pool.map(lambda _: call(fresh, "/api/schema/", timeout=120).status, range(16))
        )
    assert set(statuses) == {200}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_failure_for_any_caller(server: LiveServer, tmp_path: Path):
    world = world_build()
    callers = {
        "anonymous": None,
        "customer": world.alice.token,
        "staff": world.staff.token,
    }
    # The three callers at once (the server has 2 workers x 4 threads), then the
    # session-ending operations.
    with ThreadPoolExecutor(max_workers=len(callers)) as pool:
        futures = {
            caller: pool.submit(
                schemathesis_run,
                server,
                caller=caller,
                token=token,
                report_dir=tmp_path,
                extra=("--exclude-path-regex", SESSION_ENDING) if token else (),
                phases=(
                    "examples,coverage,fuzzing"
                    if COVERAGE_ALL or caller == "staff"
                    else "examples,fuzzing"
                ),
            )
            for caller, token in callers.items()
        }
        outcomes = {caller: future.result() for caller, future in futures.items()}
    outcomes["customer-logout"] = schemathesis_run(
        server,
        caller="customer-logout",
        token=world.bob.token,
        report_dir=tmp_path,
        extra=("--include-path-regex", SESSION_ENDING),
    )
    summary = {caller: counts for caller, (_, _, counts) in outcomes.items()}
    cases = sum(counts["cases"] for counts in summary.values())
    report = (
        f"schemathesis: {cases} cases ({MAX_EXAMPLES} examples/operation, seed {SEED or 'random'})"
    )
    print(f"{report}: {summary}")
    if REPORT_PATH:
        Path(REPORT_PATH).write_text(f"{report}\n{summary}\n")
    failed = {caller: output for caller, (code, output, _) in outcomes.items() if code != 0}
    assert not failed, "\n\n".join(f"=== {c} ===\n{o[-6000:]}" for c, o in failed.items())
    assert all(counts["operations"] for counts in summary.values()), summary


@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=12))
@example("\x85key")  # NEL: a Unicode space that a fuzz run once sent first
@example("\xa0key")
def test_a_sendable_header_is_one_the_http_client_sends(value: str):
    """What the hooks call sendable, requests (schemathesis's client) accepts as a header."""
    if hooks.sendable(value) and value:
        requests.utils.check_header_validity(("Idempotency-Key", value))
