"""The HTTP client of webhook delivery (the standard library's: one POST, no redirects)."""

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    status_code: int | None
    body: str
    error: str
    duration_ms: int


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET or to another host: never follow it.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body`; never raises for network trouble: it is reported in `error`.

    `timeout` applies to connecting and to each read of the response.
    """
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - staff-registered http(s) URL
    started = time.monotonic()
    status: int | None = None
    text = error = ""
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            text = response.read(1000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        text = exc.read(1000).decode(errors="replace") if exc.fp else ""
        if 300 <= status < 400:
            error = f"Redirect to {exc.headers.get('Location', '?')} not followed."
    except TimeoutError:
        error = f"Timed out after {timeout:g} seconds."
    except urllib.error.URLError as exc:
        reason = exc.reason
        error = (
            f"Timed out after {timeout:g} seconds."
            if isinstance(reason, TimeoutError)
            else f"Connection failed: {reason}"
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = round((time.monotonic() - started) * 1000)
    return Response(status_code=status, body=text, error=error, duration_ms=duration_ms)
