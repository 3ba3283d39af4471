"""?search= on PostgreSQL: full text (name A, description B, SKU), SKU first, trigram typos."""

import pytest

from tests.catalog.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def search(client, term: str, **params) -> list[str]:
    response = client.get(URL, {"search": term, **params})
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_name_match_ranks_above_description_match(api_client):
    ProductFactory(slug="in-description", name="Mug", description="A mug with a hoodie print")
    ProductFactory(slug="in-name", name="Hoodie", description="Warm cotton")
    ProductFactory(slug="unrelated", name="Socks", description="Wool")

    assert search(api_client, "hoodie") == ["in-name", "in-description"]


def test_stemming_and_websearch_syntax(api_client):
    ProductFactory(slug="boots", name="Hiking boots", description="Waterproof leather")
    ProductFactory(slug="shoes", name="Running shoes", description="Leather upper")

    assert search(api_client, "boot") == ["boots"]
    assert search(api_client, "leather -hiking") == ["shoes"]
    assert sorted(search(api_client, "boots or shoes")) == ["boots", "shoes"]
    assert search(api_client, '"waterproof leather"') == ["boots"]


def test_exact_sku_match_comes_first(api_client):
    # This product mentions the code many times in its name and description...
    ProductFactory(slug="mentions", name="TS-100 TS-100 adapter", description="for TS-100")
    # ...but this one IS the SKU.
    VariantFactory(sku="TS-100", product__slug="exact", product__name="Travel kettle")

    assert search(api_client, "TS-100") == ["exact", "mentions"]
    assert search(api_client, "ts-100")[0] == "exact"


def test_sku_is_part_of_the_full_text(api_client):
    VariantFactory(sku="KETTLE-RED-1L", product__slug="kettle", product__name="Travel kettle")

    assert search(api_client, "KETTLE-RED-1L") == ["kettle"]


def test_one_letter_typo_still_finds_the_product(api_client):
    ProductFactory(slug="hoodie", name="Organic Hoodie")
    ProductFactory(slug="mug", name="Coffee mug")

    for typo in ("hodie", "hooodie", "hoddie", "hoodue"):  # missing, extra, wrong letter
        assert search(api_client, typo) == ["hoodie"], typo


def test_partial_word_finds_the_product(api_client):
    ProductFactory(slug="keyboard", name="Mechanical keyboard")

    assert search(api_client, "keyb") == ["keyboard"]


def test_search_vector_follows_renames_and_new_skus(manager_client, api_client):
    product = ProductFactory(slug="thing", name="Old name")

    manager_client.patch(f"{URL}thing/", {"name": "Lantern"})
    assert search(api_client, "lantern") == ["thing"]
    VariantFactory(product=product, sku="LMP-9000")
    assert search(api_client, "LMP-9000") == ["thing"]


def test_search_combines_with_filters_and_hides_unpublished(api_client):
    ProductFactory(slug="draft-hoodie", name="Hoodie", is_published=False)
    VariantFactory(product__slug="hoodie", product__name="Hoodie", stock=0)

    assert search(api_client, "hoodie") == ["hoodie"]
    assert search(api_client, "hoodie", in_stock="true") == []


def test_explicit_ordering_overrides_relevance(api_client):
    VariantFactory(product__slug="b", product__name="Hoodie zip", price="30.00")
    VariantFactory(product__slug="a", product__name="Hoodie", price="10.00")

    assert search(api_client, "hoodie", ordering="-price") == ["b", "a"]


@pytest.mark.parametrize("term", ["'", '"', "&|!", "a:*", "-", "()", "\\", "%_"])
def test_odd_input_never_breaks_the_search(api_client, term):
    ProductFactory(name="Hoodie")

    assert api_client.get(URL, {"search": term}).status_code == 200


def test_search_too_long_is_400(api_client):
    response = api_client.get(URL, {"search": "x" * 201})

    assert (response.status_code, response.json()["code"]) == (400, "invalid")
