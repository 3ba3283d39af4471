"""`make smoke-runtime`: the image's install, run as compose runs it, driven over HTTP.

1. A throwaway virtualenv gets `requirements.txt` alone, with the pip command the
   Dockerfile runs, then `pip check`. It is cached under .smoke/ by a hash of
   everything that decides its contents, so reruns skip the install.
2. With production settings, on its own PostgreSQL database (dropped and created
   each run) and Redis databases (flushed each run), that virtualenv runs the
   Dockerfile's collectstatic and compose.yaml's migrate, web, worker and beat
   commands, read from those files so that they cannot drift apart.
3. This process (outside that virtualenv: it imports nothing from it) drives one
   journey over HTTP: register, password reset, place an order, pay it with the
   signed payment webhook, and receive the signed outgoing webhook.

Every process it starts is stopped on the way out, whatever happened. Run it
with the development virtualenv's Python (it needs PyYAML, psycopg and redis).
"""

import argparse
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
CACHE = ROOT / ".smoke"
IMAGE_VENV = "/opt/venv"
# The app services of compose.yaml whose commands the smoke runs.
COMPOSE_SERVICES = ("migrate", "web", "worker", "beat")
# Test tools that must not be installed by requirements.txt.
TEST_TOOLS = ("pytest", "pytest_django", "hypothesis", "schemathesis")


class SmokeFailure(Exception):
    """A step of the smoke did not do what production needs."""


# --- What the Dockerfile and compose.yaml run ----------------------------------


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


# --- The throwaway virtualenv -----------------------------------------------------


def venv_key(recipe_source: str, python: str) -> str:
    """Hash of what decides the venv's contents: requirements, pip line, interpreter."""
    version = subprocess.run(  # noqa: S603 - the interpreter the caller chose
        [python, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    digest = hashlib.sha256()
    for part in ((ROOT / "requirements.txt").read_text(), recipe_source, version):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def runtime_venv(python: str, log: Callable[[str], None]) -> tuple[Path, ImageRecipe]:
    """The cached venv for today's requirements.txt, built (then `pip check`ed) if absent."""
    probe = image_recipe(venv=Path(IMAGE_VENV), python=python)
    key = venv_key(json.dumps([probe.venv_create, probe.pip_install, probe.build_env]), python)
    venv = CACHE / f"venv-{key}"
    recipe = image_recipe(venv=venv, python=python)
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        for stale in CACHE.glob("venv-*"):
            shutil.rmtree(stale, ignore_errors=True)
        CACHE.mkdir(exist_ok=True)
        log(f"building {venv.relative_to(ROOT)}: {shlex.join(recipe.pip_install)}")
        env = os.environ | recipe.build_env
        for key_name in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"):
            env.pop(key_name, None)
        run(recipe.venv_create, env=env, timeout=120)
        run(recipe.pip_install, env=env, timeout=600)
        (venv / ".complete").touch()
    else:
        log(f"reusing {venv.relative_to(ROOT)} (same requirements.txt and pip line)")
    run([str(venv / "bin" / "pip"), "check"], timeout=120)
    found = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util, sys; "
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *TEST_TOOLS,
        ],
        timeout=60,
    ).stdout.split()
    if found:
        raise SmokeFailure(f"requirements.txt installs test tools: {', '.join(found)}")
    return venv, recipe


def run(
    command: list[str], *, env: dict[str, str] | None = None, timeout: float, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - commands from our Dockerfile and compose.yaml
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SmokeFailure(
            f"{shlex.join(command)} exited {result.returncode}:\n"
            f"{_tail(result.stdout + result.stderr)}"
        )
    return result


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- Services: PostgreSQL, Redis, the processes -----------------------------------


def database_recreate(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SmokeFailure(f"refusing an unusual database name: {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


def redis_flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    client.flushdb()
    client.close()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Processes:
    """Processes started in their own session, so that stop() reaches their children."""

    workdir: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Process:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(  # noqa: S603 - commands from compose.yaml
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name=name, popen=popen, log=log)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.started:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait(timeout=10)
            # Workers a master left behind share its process group.
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
        self.started.clear()

    def check_alive(self) -> None:
        for process in self.started:
            if process.popen.poll() is not None:
                raise SmokeFailure(
                    f"{process.name} exited {process.popen.returncode}:\n{_tail(process.output())}"
                )


def wait_for[T](
    what: str, probe: Callable[[], T | None], timeout: float, processes: Processes
) -> T:
    """Poll `probe` until it returns a value; fail after `timeout` or if a process died."""
    deadline = time.monotonic() + timeout
    while True:
        processes.check_alive()
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{_tail(p.output(), 15)}" for p in processes.started)
            raise SmokeFailure(f"timed out after {timeout:g} s waiting for {what}\n{logs}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- HTTP: the client, the webhook receiver, the mailbox ---------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str = "",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(  # noqa: S310 - the smoke's own 127.0.0.1 server
            self.base + path, data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310  # nosec B310
                status, payload, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, payload, got = exc.code, exc.read(), dict(exc.headers)
        text = payload.decode(errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return Answer(status=status, body=parsed, headers=got)

    def expect(self, status: int, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        answer = self.call(method, path, body, **kwargs)
        if answer.status != status:
            raise SmokeFailure(
                f"{method} {path} answered {answer.status}, expected {status}: {answer.body}"
            )
        return answer.body


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST it gets."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def serving(self) -> Iterator[str]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hooks/stockroom"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def posts(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.received)


def signature_valid(header: str, body: bytes, secret: str) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    expected = hmac.new(secret.encode(), f"{fields.get('t', '')}.".encode() + body, "sha256")
    return hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


def mailbox(directory: Path) -> list[email.message.EmailMessage]:
    """Every message Django's file backend wrote to `directory`."""
    messages = []
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                message = email.message_from_bytes(chunk.strip(), policy=email.policy.default)
                messages.append(message)
    return messages


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


# --- The journey -------------------------------------------------------------------


def journey(
    *,
    client: Client,
    mail: Path,
    receiver: Receiver,
    receiver_url: str,
    staff: tuple[str, str],
    payment_secret: str,
    processes: Processes,
    log: Callable[[str], None],
) -> None:
    """Register, reset the password, order, pay: each email and webhook must arrive.

    Catalog data is created through the staff API; names carry a random tag, so
    the journey does not depend on what the database held before.
    """
    tag = secrets.token_hex(4)

    def one_mail(to: str, subject: str) -> email.message.EmailMessage:
        def probe() -> email.message.EmailMessage | None:
            found = [m for m in mailbox(mail) if m["To"] == to and subject in str(m["Subject"])]
            return found[0] if found else None

        return wait_for(f"the email {subject!r} to {to}", probe, 30, processes)

    staff_token = client.expect(
        200, "POST", "/api/v1/auth/login/", {"email": staff[0], "password": staff[1]}
    )["token"]
    endpoint = client.expect(
        201,
        "POST",
        "/api/v1/webhooks/",
        {"url": receiver_url, "event_types": ["order.placed", "order.paid"]},
        token=staff_token,
    )
    log(f"webhook endpoint {endpoint['id']} -> {receiver_url}")
    category = client.expect(
        201, "POST", "/api/v1/categories/", {"name": f"Smoke {tag}"}, token=staff_token
    )
    product = client.expect(
        201,
        "POST",
        "/api/v1/products/",
        {
            "name": f"Smoke kettle {tag}",
            "description": "A kettle the runtime smoke sells.",
            "category": category["slug"],
            "is_published": True,
        },
        token=staff_token,
    )
    sku = f"SMOKE-{tag}".upper()
    client.expect(
        201,
        "POST",
        "/api/v1/variants/",
        {
            "product": product["slug"],
            "sku": sku,
            "name": "Steel",
            "attributes": {},
            "price": "19.90",
        },
        token=staff_token,
    )
    client.expect(
        201,
        "POST",
        f"/api/v1/variants/{sku}/stock-adjustments/",
        {"delta": 5, "reason": "runtime smoke"},
        token=staff_token,
    )

    customer, password = f"smoke-{tag}@example.com", secrets.token_urlsafe(16)
    client.expect(201, "POST", "/api/v1/auth/register/", {"email": customer, "password": password})
    log(f"registered {customer}")

    client.expect(202, "POST", "/api/v1/auth/password-reset/", {"email": customer})
    reset = one_mail(customer, "Reset your Stockroom password")
    link = re.search(r"/reset-password/([^/\s]+)/([^/\s]+)/", text_of(reset))
    if link is None:
        raise SmokeFailure(f"no reset link in the email:\n{text_of(reset)}")
    password = secrets.token_urlsafe(16)
    client.expect(
        204,
        "POST",
        "/api/v1/auth/password-reset/confirm/",
        {"uid": link.group(1), "token": link.group(2), "new_password": password},
    )
    token = client.expect(
        200, "POST", "/api/v1/auth/login/", {"email": customer, "password": password}
    )["token"]
    log("password reset: email received, new password works")

    order = client.expect(
        201,
        "POST",
        "/api/v1/orders/",
        {
            "lines": [{"sku": sku, "quantity": 2}],
            "shipping_address": {
                "full_name": "Smoke Test",
                "line1": "1 Runtime Street",
                "city": "Lyon",
                "postal_code": "69001",
                "country": "FR",
            },
        },
        token=token,
    )
    number = order["number"]
    one_mail(customer, f"Order {number} received")
    log(f"order {number} placed ({order['total']} {order['currency']}): email received")

    body = json.dumps(
        {
            "id": f"evt_smoke_{tag}",
            "type": "payment.succeeded",
            "data": {
                "order_number": number,
                "amount": order["total"],
                "currency": order["currency"],
            },
        }
    ).encode()
    stamp = int(time.time())
    mac = hmac.new(payment_secret.encode(), f"{stamp}.".encode() + body, "sha256").hexdigest()
    client.expect(
        200,
        "POST",
        "/api/v1/payments/webhook/",
        raw=body,
        headers={"Payment-Signature": f"t={stamp},v1={mac}"},
    )
    status = client.expect(200, "GET", f"/api/v1/orders/{number}/", token=token)["status"]
    if status != "paid":
        raise SmokeFailure(f"order {number} is {status!r} after the payment webhook")
    one_mail(customer, f"Payment received for order {number}")
    log(f"order {number} paid by the signed payment webhook: email received")

    def paid_hook() -> tuple[dict[str, str], bytes] | None:
        for headers, raw in receiver.posts():
            event = json.loads(raw)
            if event["type"] == "order.paid" and event["data"]["number"] == number:
                return headers, raw
        return None

    headers, raw = wait_for("the order.paid webhook", paid_hook, 30, processes)
    signature = {k.lower(): v for k, v in headers.items()}.get("stockroom-signature", "")
    if not signature_valid(signature, raw, endpoint["secret"]):
        raise SmokeFailure(f"bad Stockroom-Signature {signature!r} on {raw!r}")
    log("order.paid webhook received with a valid Stockroom-Signature")


# --- Main --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3.13", help="the image's interpreter")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SMOKE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom_smoke_rt"
        ),
        help="dropped and created each run",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="the cache's Redis database, flushed each run",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("SMOKE_BROKER_URL", "redis://127.0.0.1:6379/3"),
        help="Celery's Redis database, flushed each run",
    )
    args = parser.parse_args()
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[smoke-runtime {time.monotonic() - started:5.1f}s] {message}", flush=True)

    python = shutil.which(args.python) or args.python
    workdir = Path(tempfile.mkdtemp(prefix="stockroom-smoke-"))
    processes = Processes(workdir=workdir)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        venv, recipe = runtime_venv(python, log)
        log("pip check: no broken requirements; no test tools installed")
        mail = workdir / "mail"
        mail.mkdir()
        port = free_port()
        payment_secret = secrets.token_urlsafe(32)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "GUNICORN_", "PYTHON"))
            and key not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"}
        }
        env |= recipe.runtime_env | {
            "PATH": recipe.runtime_env.get("PATH", "").replace("$PATH", os.environ["PATH"]),
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.broker_url,
            "EMAIL_URL": f"filemail://{mail}",
            "PAYMENT_WEBHOOK_SECRET": payment_secret,
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "PORT": str(port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "WORKER_CONCURRENCY": "2",
        }
        if not env["PATH"].startswith(str(venv / "bin")):
            raise SmokeFailure(f"the Dockerfile's PATH does not start with the venv: {env['PATH']}")
        commands = compose_commands(env)

        database_recreate(args.database_url)
        redis_flush(args.redis_url)
        redis_flush(args.broker_url)
        # Independent steps (the image runs collectstatic at build time): side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            steps = [
                pool.submit(run, recipe.collectstatic, env=env, timeout=180),
                pool.submit(run, commands["migrate"], env=env, timeout=180),
            ]
            for step in steps:
                step.result()
        log(f"{shlex.join(recipe.collectstatic)}; {shlex.join(commands['migrate'])}: done")
        staff = (f"staff-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16))
        run(
            ["python", "manage.py", "createsuperuser", "--noinput", "--email", staff[0]],
            env=env | {"DJANGO_SUPERUSER_PASSWORD": staff[1]},
            timeout=60,
        )

        web = processes.start("web", commands["web"], env)
        worker = processes.start("worker", commands["worker"], env)
        beat = processes.start("beat", commands["beat"], env)
        client = Client(f"http://127.0.0.1:{port}")

        def healthy() -> bool | None:
            try:
                return client.call("GET", "/readyz").status == 200 or None
            except OSError:
                return None

        wait_for("gunicorn to answer /readyz", healthy, 60, processes)
        wait_for(
            "the worker to be ready",
            lambda: " ready." in worker.output() or None,
            60,
            processes,
        )
        wait_for("beat to start", lambda: "beat: Starting" in beat.output() or None, 60, processes)
        log(f"web ({web.popen.pid}), worker ({worker.popen.pid}), beat ({beat.popen.pid}) up")

        receiver = Receiver()
        with receiver.serving() as receiver_url:
            journey(
                client=client,
                mail=mail,
                receiver=receiver,
                receiver_url=receiver_url,
                staff=staff,
                payment_secret=payment_secret,
                processes=processes,
                log=log,
            )
        processes.check_alive()
        for process in processes.started:
            if "Traceback" in process.output():
                raise SmokeFailure(f"{process.name} logged an error:\n{_tail(process.output())}")
    except SmokeFailure as failure:
        log(f"FAILED: {failure}")
        return 1
    finally:
        processes.stop()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)
    log("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
