"""System checks of the project's own deployment rules (run by `manage.py check --deploy`)."""

import ipaddress
import os
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from rest_framework.settings import api_settings

GUNICORN_FORWARDED_DEFAULT = "127.0.0.1,::1"


def forwarded_allow_ips_trust_a_proxy(value: str) -> bool:
    """Whether gunicorn's FORWARDED_ALLOW_IPS trusts any address beyond this host's loopback.

    `*`, any non-loopback address or network, and anything unparsable count as a proxy.
    """
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return True
        if not network.is_loopback:
            return True
    return False


@register(Tags.security, deploy=True)
def num_proxies_behind_a_proxy_check(
    *,
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Behind a trusted proxy, NUM_PROXIES=0 makes every client the proxy's address, so
    the per-address login lockout and the throttles hit everyone at once."""
    forwarded = os.environ.get("FORWARDED_ALLOW_IPS", GUNICORN_FORWARDED_DEFAULT)
    if (
        settings.DEBUG
        or api_settings.NUM_PROXIES
        or not forwarded_allow_ips_trust_a_proxy(forwarded)
    ):
        return []
    return [
        CheckWarning(
            f"FORWARDED_ALLOW_IPS={forwarded!r} trusts a proxy, but NUM_PROXIES is 0: every "
            "client then has the proxy's address, and 50 failed log-ins from anyone lock "
            "everyone out of the API login.",
            hint="Set NUM_PROXIES to the number of proxies in front of the app (usually 1).",
            id="config.W001",
        )
    ]
