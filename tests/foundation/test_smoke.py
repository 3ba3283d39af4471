import pytest

from catalog import services
from catalog.exceptions import InsufficientStock
from catalog.models import StockMovement
from tests.catalog.factories import VariantFactory


@pytest.mark.django_db
def test_stock_take_is_all_or_nothing():
    a = VariantFactory.create(stock=5)
    b = VariantFactory.create(stock=1)
    with pytest.raises(InsufficientStock) as caught:
        services.stock_take(quantities={a.pk: 2, b.pk: 3}, order_number="X1")
    assert caught.value.extra["shortages"] == [{"sku": b.sku, "requested": 3, "available": 1}]
    a.refresh_from_db()
    assert a.stock == 5
    assert StockMovement.objects.filter(order_number="X1").count() == 0
