"""me/addresses/: owner-scoped CRUD, ISO 3166-1 countries, the per-user cap."""

import threading

import pytest
from django.db import connection

from accounts.countries import COUNTRY_CODES
from accounts.exceptions import AddressLimitReached
from accounts.models import Address
from accounts.services import address_create
from tests.accounts.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/me/addresses/"

BODY = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "line2": "",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
    "phone": "+44 20 7946 0000",
}


def detail(address):
    return f"{LIST}{address.pk}/"


def test_create_address(user_client, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        response = user_client.post(LIST, BODY)
    assert response.status_code == 201, response.content
    address = Address.objects.get()
    assert address.user == user
    assert response.json() == {"id": address.pk, **BODY}


def test_create_ignores_a_user_field(user_client, user):
    other = UserFactory()
    response = user_client.post(LIST, {**BODY, "user": other.pk})
    assert response.status_code == 201
    assert Address.objects.get().user == user


def test_country_is_upper_cased(user_client):
    response = user_client.post(LIST, {**BODY, "country": "de"})
    assert response.status_code == 201
    assert response.json()["country"] == "DE"


@pytest.mark.parametrize("country", ["XX", "UK", "GER", "D", "", "12"])
def test_country_must_be_iso_3166_alpha_2(user_client, country):
    response = user_client.post(LIST, {**BODY, "country": country})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["country"]


def test_country_list_is_complete():
    assert len(COUNTRY_CODES) == 249
    assert {"DE", "GB", "US", "FR", "JP", "SS", "AQ", "BQ"} <= COUNTRY_CODES
    assert "XK" not in COUNTRY_CODES  # user-assigned, not ISO 3166-1
    assert "UK" not in COUNTRY_CODES


def test_create_requires_the_mandatory_fields(user_client):
    response = user_client.post(LIST, {})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {
        "full_name",
        "line1",
        "city",
        "postal_code",
        "country",
    }


def test_list_shows_only_own_addresses(user_client, user, django_assert_max_num_queries):
    mine = AddressFactory.create_batch(3, user=user)
    AddressFactory.create_batch(2)
    with django_assert_max_num_queries(4):
        response = user_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [a["id"] for a in body["results"]] == [a.pk for a in mine]


def test_read_update_delete_own_address(user_client, user, django_assert_max_num_queries):
    address = AddressFactory(user=user)
    with django_assert_max_num_queries(3):
        assert user_client.get(detail(address)).json()["id"] == address.pk
    with django_assert_max_num_queries(4):
        response = user_client.patch(detail(address), {"city": "Paris", "country": "fr"})
    assert response.status_code == 200
    assert (response.json()["city"], response.json()["country"]) == ("Paris", "FR")
    response = user_client.put(detail(address), {**BODY, "line2": "Flat 3"})
    assert response.status_code == 200
    address.refresh_from_db()
    assert (address.city, address.line2) == ("London", "Flat 3")
    with django_assert_max_num_queries(4):
        assert user_client.delete(detail(address)).status_code == 204
    assert not Address.objects.exists()


def test_put_needs_every_mandatory_field(user_client, user):
    address = AddressFactory(user=user)
    response = user_client.put(detail(address), {"city": "Paris"})
    assert response.status_code == 400


def test_someone_elses_address_is_not_found(user_client):
    theirs = AddressFactory()
    before = Address.objects.values().get(pk=theirs.pk)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(user_client, method)(detail(theirs), BODY)
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"
    assert Address.objects.values().get(pk=theirs.pk) == before


def test_addresses_need_authentication(api_client):
    assert api_client.get(LIST).status_code == 401
    assert api_client.post(LIST, BODY).status_code == 401


def test_address_cap(user_client, user, settings):
    settings.ADDRESSES_PER_USER_MAX = 2
    AddressFactory.create_batch(2, user=user)
    response = user_client.post(LIST, BODY)
    assert response.status_code == 409
    assert response.json()["code"] == "address_limit_reached"
    assert response.json()["limit"] == 2
    assert Address.objects.filter(user=user).count() == 2
    AddressFactory.create_batch(2)  # others' addresses do not count
    user_client.delete(detail(user.addresses.first()))
    assert user_client.post(LIST, BODY).status_code == 201


def test_default_cap_is_twenty(settings):
    assert settings.ADDRESSES_PER_USER_MAX == 20


@pytest.mark.django_db(transaction=True)
def test_parallel_creates_cannot_pass_the_cap(settings):
    settings.ADDRESSES_PER_USER_MAX = 3
    user = UserFactory()
    results: list[str] = []

    def create() -> None:
        try:
            address_create(user=user, **BODY)
            results.append("created")
        except AddressLimitReached:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["created"] * 3 + ["refused"] * 3
    assert Address.objects.filter(user=user).count() == 3
