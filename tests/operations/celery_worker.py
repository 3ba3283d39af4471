"""Start a real `celery -A config worker` (or `beat`) against Redis, on a queue of its own."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from celery import Celery
from django.conf import settings

# The test Redis server (REDIS_URL), database 10; every key prefixed per worker.
_REDIS_SERVER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1").rpartition("/")[0]
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", f"{_REDIS_SERVER}/10")
ROOT = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(
        self,
        log_dir: Path,
        *,
        concurrency: int = 1,
        queue: str | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`queue`: the queue it consumes (several workers may share one); `name`: its
        node name before the @ (default: the queue's)."""
        self.queue = queue or f"stockroom-test-{uuid.uuid4().hex[:12]}"
        self.name = name or self.queue
        self.prefix = f"{self.queue}:"
        self.extra_env = env or {}
        self.log_path = log_dir / f"{self.queue}-{uuid.uuid4().hex[:6]}.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        # Not the current app: shared tasks in this process must keep resolving to
        # config.celery's app (eager in tests), not to this client.
        self.client = Celery("stockroom-test-client", broker=BROKER_URL, set_as_current=False)
        self.client.conf.broker_connection_retry_on_startup = False
        self.client.conf.broker_transport_options = {"global_keyprefix": self.prefix}

    def env(self) -> dict[str, str]:
        db = settings.DATABASES["default"]
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.operations.worker_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_QUEUE": self.queue,
            "TEST_CELERY_KEY_PREFIX": self.prefix,
            "DB_POOL_MIN_SIZE": "0",
            # The test receivers listen on 127.0.0.1.
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            **self.extra_env,
        }

    # What the process logs once it takes work.
    ready_text = "ready"

    def command(self) -> list[str]:
        return [
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{self.name}@%h",
        ]

    def start(self, *, timeout: float = 30) -> "Worker":
        """Start it and wait (up to `timeout` seconds) until it says it is ready."""
        celery = Path(sys.executable).with_name("celery")
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(celery), "-A", "config", *self.command()],
            cwd=ROOT,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for_log(self.ready_text, timeout=timeout)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the worker:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def children(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        found: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
        return found

    def send(self, name: str, *args: object) -> None:
        self.client.send_task(name, args=args, queue=self.queue)

    def kill(self) -> None:
        """SIGKILL the whole worker, pool processes included (a container killed)."""
        assert self.process is not None
        children = self.children()
        self.process.kill()
        self.process.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            children = self.children()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.log.close()
        broker = redis.Redis.from_url(BROKER_URL)
        keys = list(broker.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            broker.delete(*keys)
        broker.close()


class Beat(Worker):
    """`celery -A config beat`: sends the schedule to `queue`, keeping its state in `schedule`.

    Give a restarted beat the same `schedule` file (a container restarted),
    or a new one (a container replaced).
    """

    ready_text = "beat: Starting"

    def __init__(
        self,
        log_dir: Path,
        *,
        queue: str,
        schedule: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(log_dir, queue=queue, env=env)
        self.schedule = schedule

    def command(self) -> list[str]:
        return ["beat", "--loglevel=INFO", f"--schedule={self.schedule}"]
