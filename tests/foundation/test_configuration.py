"""Every knob an operator may turn is documented in .env.example and docs/configuration.md."""

import re

from tests.foundation.procs import ROOT

_SETTINGS_READ = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
_GUNICORN_READ = re.compile(r"""(?:_int|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names = set(_SETTINGS_READ.findall((ROOT / "config/settings/base.py").read_text()))
    names |= set(_GUNICORN_READ.findall((ROOT / "gunicorn.conf.py").read_text()))
    return names


def test_the_settings_really_read_variables():
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"} <= variables_read()


def test_every_variable_is_in_env_example():
    env_example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", env_example, re.MULTILINE))
    assert variables_read() - documented == set(), "add `# NAME=default` lines to .env.example"


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    assert variables_read() - documented == set(), "add rows to docs/configuration.md"


def test_env_example_sets_nothing_so_copying_it_is_safe():
    """Every line is a comment: a copied .env changes no default (make up adds the key)."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert [line for line in lines if line.strip() and not line.startswith("#")] == []
