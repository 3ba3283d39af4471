import uuid

from django.db import models


class Event(models.Model):
    """The outbox: one row per domain event, written in the transaction of its change.

    The id is stable, so receivers can drop duplicates however often an event
    is delivered.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
