"""The deploy check warns when a trusted proxy hides every client behind one address."""

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

from tests.foundation.procs import manage, production_env

TRUSTS_A_PROXY = ["*", "10.0.0.5", "127.0.0.1,10.0.0.0/8", "::1,fd00::7", "proxy.internal"]
LOOPBACK_ONLY = [None, "127.0.0.1,::1", "127.0.0.1", "::1", "127.0.0.0/8", "", " , "]


def _proxy_warnings(*, num_proxies: int = 0, debug: bool = False, deploy: bool = True):
    rest_framework = settings.REST_FRAMEWORK | {"NUM_PROXIES": num_proxies}
    with override_settings(DEBUG=debug, REST_FRAMEWORK=rest_framework):
        messages = run_checks(include_deployment_checks=deploy)
    return [message for message in messages if message.id == "config.W001"]


@pytest.mark.parametrize("forwarded", TRUSTS_A_PROXY)
def test_warns_when_a_trusted_proxy_meets_num_proxies_zero(monkeypatch, forwarded):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", forwarded)

    (warning,) = _proxy_warnings()

    assert "NUM_PROXIES" in warning.msg
    assert warning.hint == (
        "Set NUM_PROXIES to the number of proxies in front of the app (usually 1)."
    )


@pytest.mark.parametrize("forwarded", LOOPBACK_ONLY)
def test_quiet_when_only_loopback_is_trusted(monkeypatch, forwarded):
    if forwarded is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", forwarded)

    assert _proxy_warnings() == []


def test_quiet_once_num_proxies_is_set(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert _proxy_warnings(num_proxies=1) == []


def test_quiet_in_development_and_outside_the_deploy_check(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert _proxy_warnings(debug=True) == []
    assert _proxy_warnings(deploy=False) == []


def test_deploy_check_fails_ci_on_a_proxy_with_num_proxies_zero():
    failing = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(FORWARDED_ALLOW_IPS="*")
    )
    fixed = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_env(FORWARDED_ALLOW_IPS="*", NUM_PROXIES="1"),
    )

    assert failing.returncode != 0
    assert "config.W001" in failing.stderr
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
