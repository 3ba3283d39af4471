from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from catalog import services
from catalog.models import Category, Product, Variant


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = factory.Faker("sentence")
    category = factory.SubFactory(CategoryFactory)
    is_published = True


class VariantFactory(DjangoModelFactory):
    """A variant; `stock=N` goes through stock_adjust so the ledger matches."""

    class Meta:
        model = Variant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Variant {n}")
    attributes = factory.LazyFunction(dict)
    price = Decimal("10.00")

    @factory.post_generation
    def stock(obj, create, extracted, **kwargs):
        if create and extracted:
            services.stock_adjust(variant=obj, delta=extracted, reason="initial stock")
