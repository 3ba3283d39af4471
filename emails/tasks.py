"""Email background work: a hint per email, and the sweep beat runs every 30 seconds."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from emails import services


@shared_task(
    name="emails.tasks.email_send",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def email_send_task(email_id: int) -> str | None:
    """Send one email if it is still due (a failed send is retried by the sweep, not here)."""
    return services.email_send(email_id=email_id)


@shared_task(name="emails.tasks.emails_sweep", acks_late=True)
def emails_sweep_task() -> int:
    """Send every email that is due: those whose hint was lost, and retries."""
    return services.emails_sweep()


@shared_task(name="emails.tasks.emails_purge", acks_late=True)
def emails_purge_task() -> int:
    """Daily: forget emails sent or skipped long ago."""
    return services.emails_purge()
