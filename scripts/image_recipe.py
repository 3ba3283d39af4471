"""What the image installs and runs: the Dockerfile's and compose.yaml's commands.

`make smoke-runtime` runs exactly these (scripts/smoke_runtime.py), and
tests/foundation/test_containers.py checks they are what the files say.
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
IMAGE_VENV = "/opt/venv"
# The app services of compose.yaml whose commands the smoke runs.
COMPOSE_SERVICES = ("migrate", "web", "worker", "beat")


def dockerfile_stages(path: Path = DOCKERFILE) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), grouped by FROM stage."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def _env_assignments(args: str) -> dict[str, str]:
    return dict(token.split("=", 1) for token in shlex.split(args))


def _strip_env_prefix(tokens: list[str]) -> list[str]:
    while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
        tokens = tokens[1:]
    return tokens


@dataclass(frozen=True)
class ImageRecipe:
    """The Dockerfile's install and runtime environment, mapped onto a local venv."""

    venv_create: list[str]
    pip_install: list[str]
    build_env: dict[str, str]
    runtime_env: dict[str, str]
    collectstatic: list[str]
    cmd: list[str]


def image_recipe(*, venv: Path, python: str, path: Path = DOCKERFILE) -> ImageRecipe:
    """Read the Dockerfile: the build stage's venv and pip lines, the runtime ENV and CMD.

    /opt/venv becomes `venv`, files the build stage COPYs become the checkout's
    files, and `python` (the image's interpreter) becomes `python`.
    """
    build, runtime = dockerfile_stages(path)[0], dockerfile_stages(path)[-1]
    copied = {}
    for instruction, args in build:
        if instruction == "COPY" and not args.startswith("--"):
            source, destination = shlex.split(args)
            copied[destination] = str(ROOT / source)

    def local(token: str) -> str:
        if token in copied:
            return copied[token]
        return token.replace(IMAGE_VENV, str(venv))

    runs = [shlex.split(args) for instruction, args in build if instruction == "RUN"]
    [venv_line] = [run for run in runs if run[1:3] == ["-m", "venv"]]
    [pip_line] = [run for run in runs if "pip" in run[0] and run[1] == "install"]
    build_env: dict[str, str] = {}
    for instruction, args in build:
        if instruction == "ENV":
            build_env.update(_env_assignments(args))
    runtime_env: dict[str, str] = {}
    for instruction, args in runtime:
        if instruction == "ENV":
            runtime_env.update(_env_assignments(args))
    runtime_env = {key: local(value) for key, value in runtime_env.items()}
    [collectstatic] = [
        _strip_env_prefix(shlex.split(args))
        for instruction, args in runtime
        if instruction == "RUN" and "collectstatic" in args
    ]
    [cmd] = [json.loads(args) for instruction, args in runtime if instruction == "CMD"]
    return ImageRecipe(
        venv_create=[python, *venv_line[1:-1], local(venv_line[-1])],
        pip_install=[local(token) for token in pip_line],
        build_env=build_env,
        runtime_env=runtime_env,
        collectstatic=collectstatic,
        cmd=cmd,
    )


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def compose_interpolate(value: str, env: dict[str, str]) -> str:
    """compose.yaml's `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if ":-" in match.group(0):
            return env.get(name) or (default or "")
        return env.get(name, default or "")

    return _INTERPOLATION.sub(replace, value)


def compose_commands(env: dict[str, str], path: Path = COMPOSE) -> dict[str, list[str]]:
    """The command of each app service of compose.yaml, interpolated with `env`."""
    services = yaml.safe_load(path.read_text())["services"]
    commands = {}
    for name in COMPOSE_SERVICES:
        command = services[name]["command"]
        tokens = shlex.split(command) if isinstance(command, str) else command
        commands[name] = [compose_interpolate(str(token), env) for token in tokens]
    return commands
