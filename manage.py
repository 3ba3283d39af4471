#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

On a development checkout (neither DJANGO_DEBUG nor DJANGO_SECRET_KEY set, in
the environment or in .env) commands run with development settings, as
`make run` does and, without DATABASE_URL, on `make run`'s embedded
PostgreSQL (`.pgdata/`, started for the command unless it is running, see
scripts/devdb.py). Anything that sets either variable
(compose.yaml, the Docker image, a deployment's .env) gets production's
rules: no secret key, no start.
"""

import os
import re
import sys
from pathlib import Path

_CONFIGURED = ("DJANGO_DEBUG", "DJANGO_SECRET_KEY")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?(DJANGO_DEBUG|DJANGO_SECRET_KEY)\s*=", re.MULTILINE)


def development_checkout(environ: dict[str, str] | os._Environ[str], dotenv: Path) -> bool:
    """True when nothing chose the settings' mode: then development settings apply."""
    if any(name in environ for name in _CONFIGURED):
        return False
    return not (dotenv.is_file() and _DOTENV_LINE.search(dotenv.read_text()))


def _dotenv_sets(name: str) -> bool:
    dotenv = Path(__file__).resolve().parent / ".env"
    line = re.compile(rf"^\s*(?:export\s+)?{name}\s*=", re.MULTILINE)
    return dotenv.is_file() and bool(line.search(dotenv.read_text()))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    # Log lines go to stderr: a command's stdout is its output, kept parseable.
    os.environ.setdefault("LOG_STREAM", "stderr")
    if development_checkout(os.environ, Path(__file__).resolve().parent / ".env"):
        os.environ["DJANGO_DEBUG"] = "true"
        print(
            "manage.py: neither DJANGO_DEBUG nor DJANGO_SECRET_KEY is set: development "
            "settings (DJANGO_DEBUG=true). Set them for production.",
            file=sys.stderr,
        )
        if not os.environ.get("DATABASE_URL") and not _dotenv_sets("DATABASE_URL"):
            # The embedded PostgreSQL of `make run`, as the command's database.
            from scripts import devdb

            sys.exit(devdb.manage(sys.argv))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
