"""Registries through which other apps join the personal-data export and erasure.

accounts never imports those apps: an app registers its hooks from its
`AppConfig.ready()`::

    from accounts.personal_data import register_eraser, register_exporter

    @register_exporter("orders")
    def export_orders(user): ...          # JSON-serialisable value

    @register_eraser
    def erase_orders(user): ...           # runs inside the erasure transaction

Exporters are called by `GET me/export/` (their result under their name);
erasers are called by `user_erase()` while the user's row is locked, inside its
transaction, so a failing eraser rolls the whole erasure back.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accounts.models import User

Exporter = Callable[["User"], Any]
Eraser = Callable[["User"], None]

EXPORTERS: dict[str, Exporter] = {}
ERASERS: list[Eraser] = []

# Sections the export always has, even before the app that fills them is installed.
DEFAULT_SECTIONS: dict[str, Callable[[], Any]] = {"orders": list}

RESERVED_NAMES = frozenset({"profile", "addresses"})


def register_exporter(name: str) -> Callable[[Exporter], Exporter]:
    """Register `func(user)` as the exporter of section `name` (last registration wins)."""
    if name in RESERVED_NAMES:
        raise ValueError(f"The export section {name!r} belongs to accounts.")

    def decorator(func: Exporter) -> Exporter:
        EXPORTERS[name] = func
        return func

    return decorator


def register_eraser(func: Eraser) -> Eraser:
    """Register `func(user)` to run during erasure (registering twice is a no-op)."""
    if func not in ERASERS:
        ERASERS.append(func)
    return func
