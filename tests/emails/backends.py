"""Mail backends for the outbox tests, set through settings.MAILERS."""

import smtplib
import time

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class SlowBackend(LocmemBackend):
    """Django's locmem backend (mail.outbox), taking a while per send as SMTP does."""

    def send_messages(self, messages):
        time.sleep(0.02)
        return super().send_messages(messages)


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that hangs up."""

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
