import factory
from factory.django import DjangoModelFactory

from webhooks.models import Endpoint


class EndpointFactory(DjangoModelFactory):
    class Meta:
        model = Endpoint

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/stockroom")
    secret = factory.Sequence(lambda n: f"whsec_test_secret_{n:08d}")
    event_types = factory.LazyFunction(lambda: ["*"])
