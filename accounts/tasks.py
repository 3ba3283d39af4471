"""Background work of accounts; each task calls a service."""

from celery import shared_task

from accounts import login, services
from accounts.models import User


@shared_task(ignore_result=True)
def password_reset_email_send(*, user_id: int) -> None:
    """Accept a message queued before the outbox existed: record the email in the outbox."""
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        services.password_reset_request(email=user.email)


@shared_task(ignore_result=True)
def login_failures_purge() -> int:
    return login.login_failures_purge()
