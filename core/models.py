from django.db import models


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` per caller, method and path, with the first response.

    The row is inserted (and committed) before the request runs: the unique
    constraint is the lock that makes concurrent retries wait their turn.
    `status_code` stays null while the first request is still running.
    """

    caller = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=1024)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # Created by the orders app before core existed; moved without moving data.
        db_table = "orders_idempotencykey"
        constraints = [
            models.UniqueConstraint(
                fields=["caller", "method", "path", "key"], name="idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.method} {self.path} {self.key}"
