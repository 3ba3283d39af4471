"""Background work of accounts; each task calls a service."""

from celery import shared_task

from accounts import login, services


@shared_task(ignore_result=True)
def password_reset_email_send(*, user_id: int) -> None:
    services.password_reset_email_send(user_id=user_id)


@shared_task(ignore_result=True)
def login_failures_purge() -> int:
    return login.login_failures_purge()
