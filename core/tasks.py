"""Background work of the platform (scheduled by CELERY_BEAT_SCHEDULE)."""

from celery import shared_task


@shared_task
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL."""
    from core.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
