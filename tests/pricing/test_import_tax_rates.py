from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pricing.models import TaxRate
from tests.pricing.factories import TaxRateFactory

pytestmark = pytest.mark.django_db


def _run(tmp_path, text):
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("import_tax_rates", str(path), stdout=out)
    return out.getvalue().strip()


def test_rates_are_created_and_updated(tmp_path):
    TaxRateFactory(country="DE", tax_class_id="standard", rate=Decimal("16.00"))
    TaxRateFactory(country="FR", tax_class_id="standard", rate=Decimal("20.00"))
    text = "country,tax_class,rate\nde,standard,19\nDE,reduced,7.00\nFR,standard,20.00\n"
    assert _run(tmp_path, text) == "1 created, 1 updated, 1 unchanged tax rates."
    assert sorted(TaxRate.objects.values_list("country", "tax_class", "rate")) == [
        ("DE", "reduced", Decimal("7.00")),
        ("DE", "standard", Decimal("19.00")),
        ("FR", "standard", Decimal("20.00")),
    ]


def test_one_bad_line_imports_nothing_and_every_error_names_its_line(tmp_path):
    text = (
        "country,tax_class,rate\n"
        "DE,standard,19\n"
        "XX,standard,19\n"
        "AT,luxury,120\n"
        "DE,standard,19\n"
        "IT,standard,abc\n"
    )
    with pytest.raises(CommandError) as error:
        _run(tmp_path, text)
    message = str(error.value)
    assert "line 3: country 'XX' is not an ISO 3166-1 alpha-2 code" in message
    assert "line 4: tax_class 'luxury' does not exist; rate '120' must be 0 to 100" in message
    assert "line 5: DE standard again (first on line 2)" in message
    assert "line 6: rate 'abc' is not a number" in message
    assert not TaxRate.objects.exists()


def test_a_wrong_header_is_refused(tmp_path):
    with pytest.raises(CommandError, match="line 1: missing column"):
        _run(tmp_path, "country,class,rate\nDE,standard,19\n")
