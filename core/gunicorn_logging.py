"""Gunicorn's access log as JSON lines, so one log parser reads web and app logs alike."""

import json
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger


class JsonAccessLogger(Logger):
    """Write each access log entry as one JSON object (values escaped by json.dumps)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        try:
            atoms = self.atoms(resp, req, environ, request_time)
            entry = {
                "time": datetime.now(tz=UTC).isoformat(),
                "level": "INFO",
                "logger": "gunicorn.access",
                "remote_addr": atoms["h"],
                "method": atoms["m"],
                "path": atoms["U"],
                "query": atoms["q"],
                "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
                "bytes": atoms["B"],
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "user_agent": atoms["a"],
                "request_id": _response_header(resp, "x-request-id"),
            }
            self.access_log.info(json.dumps(entry, default=str))
        except Exception:  # noqa: BLE001 - a broken log line must never fail a request
            self.error(traceback.format_exc())


def _response_header(resp: Any, name: str) -> str | None:
    for key, value in getattr(resp, "headers", None) or []:
        if key.lower() == name:
            return str(value)
    return None
