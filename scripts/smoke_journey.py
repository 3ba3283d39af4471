"""The runtime smoke's processes and its journey over HTTP (standard library only).

Nothing here imports from the virtualenv under test: the journey is a client
from outside, as a storefront or a payment provider would be.
"""

import email
import email.message
import email.policy
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class SmokeFailure(Exception):
    """A step of the smoke did not do what production needs."""


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


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
                    f"{process.name} exited {process.popen.returncode}:\n{tail(process.output())}"
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
            logs = "\n".join(f"--- {p.name}\n{tail(p.output(), 15)}" for p in processes.started)
            raise SmokeFailure(f"timed out after {timeout:g} s waiting for {what}\n{logs}")
        time.sleep(0.2)


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
