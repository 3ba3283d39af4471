"""The HTTP client of webhook delivery: one POST to a checked address, no redirects.

The name in the URL is resolved once; every address it resolves to must pass
the destination policy (webhooks.destinations), and the client connects to a
checked address itself, sending the name in the Host header and as the TLS
server name (the certificate is verified against the name). Nothing resolves
the name a second time, so a name that re-resolves elsewhere (DNS rebinding)
cannot change where the request goes.

One deadline covers the whole attempt: resolution, connection, TLS handshake,
sending, and reading the status line and headers. Every socket operation gets
as its timeout what is left of that deadline, so a receiver that trickles its
answer a byte at a time is cut off when the deadline passes. The body of the
answer is never read.

Outcomes are reported as fixed categories (`DeliveryError`), never as the text
of a socket error or of the receiver's answer.
"""

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from webhooks.destinations import address_allowed, url_parts
from webhooks.models import DeliveryError


@dataclass(frozen=True)
class Response:
    status_code: int | None
    # A DeliveryError value; empty for a 2xx answer.
    error: str
    duration_ms: int


class Deadline:
    """A point in time.monotonic(); `remaining()` raises TimeoutError once it has passed."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt's deadline has passed")
        return left


class DeadlineReader(io.RawIOBase):
    """Reads a socket; each read waits at most until the deadline (not a fresh timeout)."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client is given as its socket: sends and reads share the attempt's deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        with memoryview(data) as view:
            sent = 0
            while sent < len(view):
                self._sock.settimeout(self._deadline.remaining())
                sent += self._sock.send(view[sent:])

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        self._sock.close()


class _Connection(http.client.HTTPConnection):
    """An HTTP connection over a socket already connected (to a checked address)."""

    def __init__(self, *, host: str, port: int, default_port: int, sock: _DeadlineSocket) -> None:
        super().__init__(host, port)
        # The Host header leaves out the port when it is the scheme's default.
        self.default_port = default_port
        self.sock = sock

    def connect(self) -> None:
        raise ConnectionError("the connection was closed")


class BlockedAddress(Exception):
    """The name resolves to an address deliveries may not connect to."""


class InvalidUrl(Exception):
    """The URL has credentials, another scheme, no host or a bad port."""


def _resolve(host: str, port: int, deadline: Deadline) -> list[tuple[Any, ...]]:
    """getaddrinfo, bounded by the deadline (the resolver has no timeout of its own to give)."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError, ValueError) as exc:  # raised in the caller's thread
            result.append(exc)

    thread = threading.Thread(target=run, name="webhook-resolve", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if not result:
        raise TimeoutError("name resolution did not finish in time")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _connect(
    *, host: str, port: int, tls: bool, deadline: Deadline, allow_private: bool
) -> socket.socket:
    """A socket connected to an address of `host` that the policy allows (tried in order)."""
    infos = _resolve(host, port, deadline)
    for *_, sockaddr in infos:
        if not address_allowed(ipaddress.ip_address(sockaddr[0]), allow_private=allow_private):
            raise BlockedAddress()
    last: OSError = ConnectionError("the name has no address")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        if not tls:
            return sock
        try:
            context = ssl.create_default_context()
            sock.settimeout(deadline.remaining())
            return context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    raise last


def _error_category(exc: BaseException) -> DeliveryError:
    if isinstance(exc, BlockedAddress):
        return DeliveryError.BLOCKED_ADDRESS
    if isinstance(exc, InvalidUrl | ValueError | UnicodeError):
        return DeliveryError.INVALID_URL
    if isinstance(exc, TimeoutError):
        return DeliveryError.TIMEOUT
    if isinstance(exc, ssl.SSLError):
        return DeliveryError.TLS_ERROR
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError.CONNECTION_REFUSED
    if isinstance(exc, socket.gaierror):
        return DeliveryError.DNS_ERROR
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
        return DeliveryError.PROTOCOL_ERROR
    return DeliveryError.CONNECTION_ERROR


def status_category(status: int) -> str:
    """The error category of an HTTP status: empty for a 2xx."""
    if 200 <= status < 300:
        return ""
    if 300 <= status < 400:
        return DeliveryError.REDIRECT_NOT_FOLLOWED
    if 400 <= status < 500:
        return DeliveryError.HTTP_4XX
    if 500 <= status < 600:
        return DeliveryError.HTTP_5XX
    return DeliveryError.PROTOCOL_ERROR


def post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> Response:
    """POST `body` to `url` within `timeout` seconds in all; never raises for network trouble.

    Refuses (without connecting) a URL with credentials, and a name with any
    address outside the destination policy; internal addresses are allowed
    only with `allow_private`. Redirects are reported, never followed.
    """
    started = time.monotonic()
    deadline = Deadline(timeout)
    status: int | None = None
    error = ""
    sock: socket.socket | None = None
    connection: _Connection | None = None
    try:
        try:
            parts = url_parts(url)
        except ValueError:
            raise InvalidUrl() from None
        tls = parts.scheme.lower() == "https"
        default_port = 443 if tls else 80
        host, port = parts.hostname or "", parts.port or default_port
        sock = _connect(
            host=host, port=port, tls=tls, deadline=deadline, allow_private=allow_private
        )
        connection = _Connection(
            host=host, port=port, default_port=default_port, sock=_DeadlineSocket(sock, deadline)
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body, headers=headers)
        status = connection.getresponse().status
        error = status_category(status)
    except (OSError, http.client.HTTPException, ValueError, BlockedAddress, InvalidUrl) as exc:
        error = _error_category(exc)
    finally:
        if connection is not None:
            connection.close()
        elif sock is not None:
            sock.close()
    duration_ms = round((time.monotonic() - started) * 1000)
    return Response(status_code=status, error=error, duration_ms=duration_ms)
