"""The layering the code keeps, checked on every module's imports (parsed, never run).

- A domain module (anything of an app outside its `api/` package: models,
  services, selectors, admin, tasks, commands, ...) imports nothing under an
  `api/` package: the API renders the domain, never the other way round.
- An app imports no other app's private module or name (`orders._x`,
  `from catalog.services import _helper`): what another app may use is public.
- The apps take DRF's serializers and fields from `core.serializers` (whose
  fields read JSON input as strictly as the schema says), never from DRF itself.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "catalog", "core", "emails", "integrations", "orders", "pricing", "webhooks")
DRF_FIELD_MODULES = (
    "rest_framework.serializers",
    "rest_framework.fields",
    "rest_framework.relations",
)
STRICT_FIELDS_MODULE = "core.serializers"
# core.openapi describes any DRF field in the schema, so it reads DRF's own classes.
DRF_FIELDS_ALLOWED = (STRICT_FIELDS_MODULE, "core.openapi")


@dataclass(frozen=True)
class Imported:
    """One module an import statement may load, and the names it takes from it."""

    module: str
    names: tuple[str, ...]
    line: int


def _imports(tree: ast.Module, *, module: str, is_package: bool) -> list[Imported]:
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Imported(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = tuple(alias.name for alias in node.names)
            found.append(Imported(base, names, node.lineno))
            # `from catalog import api` loads the module catalog.api.
            found += [Imported(f"{base}.{name}", (), node.lineno) for name in names]
    return found


def _is_api(module: str) -> bool:
    return "api" in module.split(".")[1:]


def _app(module: str) -> str | None:
    head = module.split(".")[0]
    return head if head in APPS else None


def violations(source: str, *, module: str, is_package: bool = False) -> list[str]:
    """What in `source` (the text of `module`) breaks the rules above, one line each."""
    tree = ast.parse(source)
    own_app = _app(module)
    broken = []
    for imported in _imports(tree, module=module, is_package=is_package):
        target, where = imported.module, f"{module}:{imported.line}"
        target_app = _app(target)
        if target_app and not _is_api(module) and _is_api(target):
            broken.append(f"{where} domain module imports the API module {target}")
        if target_app and target_app != own_app:
            parts = target.split(".")[1:]
            private = [p for p in parts if p.startswith("_") and not p.startswith("__")]
            private += [n for n in imported.names if n.startswith("_") and not n.startswith("__")]
            if private:
                broken.append(f"{where} imports {target_app}'s private {', '.join(private)}")
        if module not in DRF_FIELDS_ALLOWED and target in DRF_FIELD_MODULES:
            broken.append(f"{where} imports {target}: use {STRICT_FIELDS_MODULE}")
    return sorted(set(broken))


def _modules() -> list[tuple[Path, str, bool]]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            is_package = path.name == "__init__.py"
            parts = relative.parent.parts if is_package else relative.with_suffix("").parts
            found.append((path, ".".join(parts), is_package))
    return found


def test_the_apps_keep_the_layering():
    modules = _modules()
    assert len(modules) > 100  # the walk found the apps
    broken = [
        line
        for path, module, is_package in modules
        for line in violations(path.read_text(), module=module, is_package=is_package)
    ]
    assert broken == []


# --- The check itself fails where it must ---------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from accounts.api.serializers import AddressSerializer",
        "from accounts.api import serializers",
        "from accounts import api",
        "import accounts.api.serializers",
        "def f():\n    from webhooks.api.serializers import EVENT_TYPE_RE\n",
        "from .api.serializers import AddressSerializer",
    ],
)
def test_a_domain_module_importing_an_api_module_is_refused(source):
    assert violations(source, module="accounts.selectors") != []


@pytest.mark.parametrize("module", ["orders.services", "orders.models", "orders.admin"])
def test_any_non_api_module_counts_as_domain(module):
    assert violations("from catalog.api.serializers import SKU_VALIDATOR", module=module) != []


def test_an_api_module_may_import_api_modules_and_the_domain():
    source = "from accounts.api.serializers import CountryField\nfrom accounts import selectors"
    assert violations(source, module="orders.api.serializers") == []


@pytest.mark.parametrize(
    "source",
    [
        "from catalog.services import _save_variant",
        "from catalog._listing import rows",
        "import orders._x",
        "from orders import _x",
        "from catalog.listing._sql import build",
    ],
)
def test_another_apps_private_module_or_name_is_refused(source):
    assert violations(source, module="pricing.services") != []


def test_an_apps_own_private_names_and_public_names_elsewhere_are_fine():
    source = "from pricing.engine import _round\nfrom catalog.services import stock_take"
    assert violations(source, module="pricing.services") == []


@pytest.mark.parametrize(
    "source",
    [
        "from rest_framework import serializers",
        "from rest_framework.serializers import CharField",
        "from rest_framework.fields import BooleanField",
        "import rest_framework.relations",
    ],
)
def test_drf_fields_come_from_core_serializers(source):
    assert violations(source, module="orders.api.serializers") != []
    assert violations("from core import serializers", module="orders.api.serializers") == []


def test_the_package_of_a_relative_import_is_its_own():
    # In accounts/api/__init__.py, `.serializers` is accounts.api.serializers.
    assert violations(
        "from .serializers import x", module="accounts.api", is_package=True
    ) == violations("from accounts.api.serializers import x", module="accounts.api")
