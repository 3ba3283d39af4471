from typing import Any

from webhooks.models import Event


def event_record(*, type: str, data: dict[str, Any]) -> Event:
    """Store an outgoing event in the caller's transaction (the outbox).

    Must be called inside the transaction that makes the change the event
    describes, so the event exists if and only if the change committed.
    """
    return Event.objects.create(type=type, data=data)


def events_record(*, events: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    """Store several events at once (one INSERT); same contract as `event_record`."""
    return Event.objects.bulk_create([Event(type=t, data=d) for t, d in events])
