"""A deployment in miniature: web instances, Celery workers and beats as separate processes.

All of them run the production settings against the test run's own
PostgreSQL database (pytest-django's, so a transaction=True test seeds rows
with the ORM) and Redis (one cache key prefix, one secret key, one broker
queue for the whole deployment, unique to the test run), as containers of
one compose project would. Mail goes to files in `mail_dir` (Django's file
backend), which the test reads back. Processes are started by the suite's
starters (tests.reliability.live.Gunicorn, tests.operations.celery_worker)
and stopped, only they, by `stop`.
"""

import contextlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.operations.celery_worker import BROKER_URL, Beat, Worker
from tests.reliability.live import Gunicorn, current_database_url

WEBHOOK_SECRET = "whsec_scaleout_test"


@dataclass
class Deployment:
    log_dir: Path
    period: float  # seconds between two runs of each scheduled interval task
    queue: str = field(default_factory=lambda: f"scaleout-{secrets.token_hex(6)}")
    cache_prefix: str = field(default_factory=lambda: f"scaleout-{secrets.token_hex(4)}")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    webs: list[Gunicorn] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)

    @property
    def mail_dir(self) -> Path:
        return self.log_dir / "mail"

    def shared_env(self) -> dict[str, str]:
        """What every process of the deployment is configured with alike."""
        self.mail_dir.mkdir(exist_ok=True)
        return {
            "DJANGO_SECRET_KEY": self.secret_key,
            "CACHE_KEY_PREFIX": self.cache_prefix,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_QUEUE": self.queue,
            "EMAIL_URL": f"filemail://{self.mail_dir}",
            "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # The test's webhook receiver listens on 127.0.0.1.
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            # A loaded test machine: hints get a second, not 50 ms (a lost hint
            # only waits for the sweep, which is slower than this test wants).
            "TASK_HINT_TIMEOUT": "1",
            "DB_POOL_MIN_SIZE": "0",
        }

    def web(self, **overrides: str) -> Gunicorn:
        """A web instance (not started): one process of 4 threads, production throttle rates
        for password resets, generous ones for the load."""
        server = Gunicorn(log_dir=self.log_dir, workers=1, threads=4)
        server.env.update(self.shared_env(), THROTTLE_PASSWORD_RESET="5/hour", **overrides)
        self.webs.append(server)
        return server

    def _celery_env(self, role: str) -> dict[str, str]:
        return {
            **self.shared_env(),
            "DJANGO_SETTINGS_MODULE": "tests.scaleout.settings",
            "SCALEOUT_PERIOD_SECONDS": str(self.period),
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"{current_database_url()}?application_name=stockroom-{role}",
            "LOG_LEVEL": "INFO",
            "DB_POOL_MAX_SIZE": "4",
        }

    def worker(self) -> Worker:
        number = len(self.workers) + 1
        worker = Worker(
            self.log_dir,
            concurrency=2,
            queue=self.queue,
            name=f"{self.queue}-worker{number}",
            env=self._celery_env(f"worker{number}"),
        )
        self.workers.append(worker)
        return worker

    def beat(self, *, schedule: Path) -> Beat:
        beat = Beat(
            self.log_dir,
            queue=self.queue,
            schedule=schedule,
            env=self._celery_env(f"beat{len(self.beats) + 1}"),
        )
        self.beats.append(beat)
        return beat

    def start(self, *processes: Gunicorn | Worker) -> None:
        """Start these at once; each waits until it answers, or logs that it is ready (on a
        machine shared with other test runs, starting can take a minute)."""
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            started = [
                pool.submit(p.start)
                if isinstance(p, Gunicorn)
                else pool.submit(p.start, timeout=120)
                for p in processes
            ]
            for future in started:
                future.result()

    def stop(self) -> None:
        """Beats first (nothing new is sent), then workers, then the web instances."""
        for beat in self.beats:
            beat.stop()
        for worker in self.workers:
            worker.stop()
        for web in self.webs:
            web.stop()
        broker = redis.Redis.from_url(BROKER_URL)
        with contextlib.closing(broker):
            broker.delete(self.queue)
