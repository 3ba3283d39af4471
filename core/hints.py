"""One task message per transaction for the work its outbox rows stand for.

A change records outbox rows (webhook events, customer emails) in its own
transaction and hints a worker after the commit (config.celery.task_hint);
the sweeps send whatever a lost hint leaves. An order records stock events,
its own event and an email: a message each would cost the request a broker
publish each. Here the hints of a transaction wait in one on-commit hook and
leave as one message: the task itself when there is one call, else
`core.tasks.hints_run`, which runs each call in the worker.

A hint joins a hook already waiting only if that hook was registered under
savepoints that are all still open here: whatever would drop the hook (a
rollback to one of them) also drops the rows this hint is about. A hint
about rows that were rolled back finds nothing to do (every hinted task
skips ids it cannot find). Outside a transaction the hint is sent at once.
"""

from typing import Any

from django.db import transaction


class TransactionHints:
    """The on-commit hook of one transaction's hints: (task, kwargs, what) each."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any], str]] = []
        self.sent = False

    def __call__(self) -> None:
        from config.celery import task_hint

        self.sent = True  # later hints never join it (its message is gone)

        if len(self.calls) == 1:
            task, kwargs, what = self.calls[0]
            task_hint(task, kwargs=kwargs, what=what)
            return
        from core.tasks import hints_run_task

        task_hint(
            hints_run_task,
            kwargs={"calls": [[task.name, kwargs] for task, kwargs, _ in self.calls]},
            what="; ".join(what for _, _, what in self.calls),
        )


def _waiting_hook() -> TransactionHints | None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    # None stands for an atomic block without a savepoint: nothing rolls back to it.
    open_savepoints = set(connection.savepoint_ids) | {None}
    for savepoints, hook, _robust in connection.run_on_commit:
        if isinstance(hook, TransactionHints) and not hook.sent and savepoints <= open_savepoints:
            return hook
    return None


def hint_after_commit(
    task: Any, *, kwargs: dict[str, Any], what: str, merge: str | None = None
) -> None:
    """Queue `task(**kwargs)` after the commit, in the transaction's one message.

    `merge` names a list argument: a call of the same task already waiting
    takes these items into its own list instead of a second call.
    """
    hook = _waiting_hook()
    if hook is None:
        hook = TransactionHints()
        hook.calls.append((task, kwargs, what))
        transaction.on_commit(hook, robust=True)
        return
    if merge is not None:
        for waiting, waiting_kwargs, _ in hook.calls:
            if waiting.name == task.name:
                waiting_kwargs[merge].extend(kwargs[merge])
                return
    hook.calls.append((task, kwargs, what))
