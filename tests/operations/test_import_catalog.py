import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Sum

from catalog.models import Product, StockMovement, StockMovementKind, Variant
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "sku,product_slug,product_name,category_slug,variant_name,price,stock,is_published,"
    "description,attributes\n"
)
GOOD = (
    HEADER
    + 'TEE-S,tee,Tee,shirts,Small,19.90,10,true,Soft cotton,"{""size"": ""S""}"\n'
    + 'TEE-M,tee,Tee,shirts,Medium,19.90,0,true,Soft cotton,"{""size"": ""M""}"\n'
    + "MUG-1,mug,Mug,kitchen,,7.50,3,false,,\n"
)


@pytest.fixture
def categories(db):
    return CategoryFactory(slug="shirts"), CategoryFactory(slug="kitchen")


def _write(tmp_path: Path, text: str, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _assert_stock_matches_ledger():
    for variant in Variant.objects.all():
        ledger = variant.movements.aggregate(total=Sum("delta"))["total"] or 0
        assert variant.stock == ledger, variant.sku


@pytest.mark.django_db
def test_import_creates_products_variants_and_ledgered_stock(tmp_path, categories):
    out, err = _run(_write(tmp_path, GOOD))

    assert out.strip() == (
        "3 created, 0 updated, 0 unchanged variants (2 products created, 0 updated)."
    )
    assert "import" in err and "100%" in err  # the progress bar, on stderr
    tee = Product.objects.get(slug="tee")
    assert (tee.name, tee.category.slug, tee.is_published, tee.description) == (
        "Tee",
        "shirts",
        True,
        "Soft cotton",
    )
    small = Variant.objects.get(sku="TEE-S")
    assert (small.name, small.price, small.stock, small.attributes) == (
        "Small",
        Decimal("19.90"),
        10,
        {"size": "S"},
    )
    assert Product.objects.get(slug="mug").is_published is False
    movements = StockMovement.objects.order_by("variant__sku")
    assert [(m.variant.sku, m.kind, m.delta, m.reason) for m in movements] == [
        ("MUG-1", StockMovementKind.IMPORT, 3, "import catalog.csv"),
        ("TEE-S", StockMovementKind.IMPORT, 10, "import catalog.csv"),
    ]
    _assert_stock_matches_ledger()


@pytest.mark.django_db
def test_reimport_reports_unchanged_and_updates_through_the_ledger(tmp_path, categories):
    _run(_write(tmp_path, GOOD))
    out, _ = _run(_write(tmp_path, GOOD))
    assert out.strip().startswith("0 created, 0 updated, 3 unchanged")

    changed = GOOD.replace(
        "TEE-S,tee,Tee,shirts,Small,19.90,10", "TEE-S,tee,Tee,shirts,Small,17.00,4"
    )
    changed = changed.replace(
        "MUG-1,mug,Mug,kitchen,,7.50,3,false", "MUG-1,mug,Mug,kitchen,,7.50,3,true"
    )
    changed += "CAP-1,cap,Cap,shirts,,12.00,,,,\n"
    out, _ = _run(_write(tmp_path, changed))

    assert out.strip() == (
        "1 created, 2 updated, 1 unchanged variants (1 products created, 1 updated)."
    )
    small = Variant.objects.get(sku="TEE-S")
    assert (small.price, small.stock) == (Decimal("17.00"), 4)
    assert small.movements.order_by("id").values_list("delta", flat=True).last() == -6
    assert Product.objects.get(slug="mug").is_published is True
    assert Variant.objects.get(sku="CAP-1").stock == 0
    _assert_stock_matches_ledger()


@pytest.mark.django_db
def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path, categories):
    bad = (
        HEADER
        + "A-1,tee,Tee,shirts,,abc,1,,,\n"  # line 2: bad price
        + "A-2,tee,Tee,shirts,,5.00,-3,,,\n"  # line 3: negative stock
        + "A-1,tee,Tee,shirts,,5.00,1,,,\n"  # line 4: duplicate sku
        + "A-3,other,Other,nope,,5.001,x,maybe,,[1]\n"  # line 5: several problems
        + "A-4,Bad Slug,Tee,shirts,,5.00,1,,,{\n"  # line 6
        + "A-5,tee,Different name,shirts,,5.00,1,,,\n"  # line 7: first good row of `tee`
        + "A-6,ok,Ok,kitchen,,5.00,1,,,\n"  # fine
        + "A-7,tee,Tee,shirts,,5.00,1,,,\n"  # line 9: disagrees with line 7
    )
    with pytest.raises(CommandError, match=r"6 bad row\(s\) .* nothing was imported"):
        _run(_write(tmp_path, bad))

    assert Product.objects.count() == 0
    assert Variant.objects.count() == 0
    assert StockMovement.objects.count() == 0


@pytest.mark.django_db
def test_errors_name_line_and_reason(tmp_path, categories):
    bad = (
        HEADER
        + "A-1,tee,Tee,shirts,,abc,1,,,\n"
        + "A-0,tee,Tee,shirts,,5.00,1,,,\n"
        + "A-2,tee,Tee,shirts,,5.00,-3,,,\n"
        + "A-1,tee,Tee,shirts,,5.00,1,,,\n"
        + "A-3,other,Other,nope,,5.001,x,maybe,,[1]\n"
        + "A-5,tee,Different name,shirts,,5.00,1,,,\n"
        + ",,,,,,,,,\n"
        + "A-6,x,X,shirts,,1.00,1,,,,extra\n"
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalog", str(_write(tmp_path, bad)), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 2: price 'abc' is not a number",
        "line 4: stock -3 is negative",
        "line 5: duplicate sku 'A-1' (first on line 2)",
        "line 6: category_slug 'nope' does not exist; price '5.001' must have at most 2 "
        "decimal places and 10 digits; stock 'x' is not a whole number; is_published "
        "'maybe' is not true or false; attributes must be a JSON object",
        "line 7: product 'tee' differs from line 3 (name, category, description and "
        "is_published must agree)",
        "line 8: sku is empty; product_slug is empty; product_name is empty; "
        "category_slug is empty; price is empty",
        "line 9: more values than columns",
    ]


@pytest.mark.django_db
def test_missing_column_is_reported_on_line_1(tmp_path, categories):
    text = "sku,product_slug,category_slug,price\nA-1,a,shirts,1.00\n"
    err = StringIO()
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_catalog", str(_write(tmp_path, text)), stderr=err)
    assert err.getvalue().strip() == "line 1: missing column(s): product_name"


@pytest.mark.django_db
def test_sku_of_another_product_is_refused(tmp_path, categories):
    VariantFactory(sku="TEE-S", product=ProductFactory(slug="elsewhere"))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalog", str(_write(tmp_path, GOOD)), stderr=err)
    assert err.getvalue().strip() == "line 2: sku 'TEE-S' belongs to product 'elsewhere'"


@pytest.mark.django_db
def test_dry_run_writes_nothing(tmp_path, categories):
    out, _ = _run(_write(tmp_path, GOOD), "--dry-run")
    assert out.startswith("Dry run, nothing written: would have 3 created")
    assert Variant.objects.count() == 0


@pytest.mark.django_db
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nope\.csv: No such file"):
        _run(tmp_path / "nope.csv")


@pytest.mark.django_db
def test_exit_code_is_non_zero_on_a_bad_file(tmp_path):
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    path = _write(tmp_path, "sku,price\nA,1\n")
    cmd = [
        sys.executable,
        "manage.py",
        "import_catalog",
        str(path),
        "--settings=config.settings.test",
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "line 1: missing column(s): product_slug, product_name, category_slug" in result.stderr


def test_help_documents_the_options():
    from catalog.management.commands.import_catalog import Command

    text = Command().create_parser("manage.py", "import_catalog").format_help()
    assert "--dry-run" in text and "nothing is written" in text


@pytest.mark.django_db
def test_a_sku_the_api_could_not_address_is_refused(tmp_path, categories):
    text = HEADER + "A/1,tee,Tee,shirts,,5.00,1,,,\n"
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalog", str(_write(tmp_path, text)), stderr=err)
    assert err.getvalue().strip() == (
        "line 2: sku 'A/1' is not valid (letters, digits, ._-, up to 64)"
    )


def _rows(count: int, *, price: str, stock: int) -> str:
    return HEADER + "".join(
        f"BULK-{i:05d},bulk-{i // 4},Bulk {i // 4},shirts,V{i},{price},{stock},true,,\n"
        for i in range(count)
    )


@pytest.mark.django_db
def test_an_import_of_2000_rows_writes_in_bulk_statements(
    tmp_path, categories, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30):
        out, _ = _run(_write(tmp_path, _rows(2000, price="5.00", stock=3)))
    assert out.startswith("2000 created, 0 updated, 0 unchanged variants (500 products created")

    with django_assert_max_num_queries(30):
        out, _ = _run(_write(tmp_path, _rows(2000, price="6.00", stock=1)))
    assert out.startswith("0 created, 2000 updated")
    assert set(Variant.objects.values_list("price", "stock")) == {(Decimal("6.00"), 1)}
    assert set(Product.objects.values_list("min_price", flat=True)) == {Decimal("6.00")}
    _assert_stock_matches_ledger()


@pytest.mark.django_db
def test_import_reaches_the_stock_of_the_file_whatever_changed_meanwhile(
    tmp_path, categories, monkeypatch
):
    from catalog import services
    from catalog.management.commands import import_catalog

    _run(_write(tmp_path, GOOD))
    read = import_catalog.plan_build

    def sold_meanwhile(path):
        plan = read(path)
        services.stock_take(quantities={Variant.objects.get(sku="TEE-S").pk: 4}, order_number="X")
        return plan

    monkeypatch.setattr(import_catalog, "plan_build", sold_meanwhile)
    _run(_write(tmp_path, GOOD.replace("Small,19.90,10", "Small,19.90,12")))

    small = Variant.objects.get(sku="TEE-S")
    assert small.stock == 12
    assert list(small.movements.order_by("id").values_list("delta", flat=True)) == [10, -4, 6]
    _assert_stock_matches_ledger()
