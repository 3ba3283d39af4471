"""One task message per transaction for the work its outbox rows stand for.

A change records outbox rows (webhook events, customer emails) in its own
transaction and hints a worker after the commit (config.celery.task_hint);
the sweeps send whatever a lost hint leaves. An order records stock events,
its own event and an email: a message each would cost the request a broker
publish each. Here the hints of a transaction wait in one on-commit hook and
leave as one message: the task itself when there is one call, else
`core.tasks.hints_run`, which runs each call in the worker.

Only public hooks: `transaction.on_commit` and a weak reference (and the
connection's open savepoint ids; no walk over its callbacks). Every hint
registers the transaction's hook again, so a rollback to a savepoint drops
only what was registered inside it; a hook no registration keeps is gone
and the next hint starts another. A hint joins the waiting hook only through
a registration made under savepoints that are all still open here. A hook
that survives may carry a hint about rows that were rolled back: it finds
nothing to do (every hinted task skips ids it cannot find). Outside a
transaction the hint is sent at once.
"""

import weakref
from typing import Any

from asgiref.local import Local
from django.db import transaction


class TransactionHints:
    """The on-commit hook of one transaction's hints: (task, kwargs, what) each."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any], str]] = []
        self.sent = False
        # The savepoints open at each registration (None: the transaction itself).
        self.registered_under: list[frozenset[str | None]] = []

    def __call__(self) -> None:
        from config.celery import task_hint

        if self.sent:  # registered once per hint: the first call sends them all
            return
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


# The hook still waiting for its transaction's commit, per thread and database.
# Held weakly: it lives only as long as one of its on-commit registrations, and
# Django drops the registrations of a transaction (or savepoint) that rolls
# back, so a hook no registration keeps is gone and never joined again.
_waiting = Local()


def _open_savepoints() -> frozenset[str | None]:
    return frozenset(transaction.get_connection().savepoint_ids) | {None}


def _waiting_hook() -> TransactionHints | None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    ref = getattr(_waiting, connection.alias, None)
    hook = ref() if ref is not None else None
    if hook is None or hook.sent:
        return None
    # Joined only through a registration whose savepoints are all still open: a
    # hook made in a savepoint since released stays with the rows of that block.
    open_now = _open_savepoints()
    return hook if any(under <= open_now for under in hook.registered_under) else None


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
        setattr(_waiting, transaction.get_connection().alias, weakref.ref(hook))
        hook.calls.append((task, kwargs, what))
    elif merge is not None and any(waiting.name == task.name for waiting, _, _ in hook.calls):
        for waiting, waiting_kwargs, _ in hook.calls:
            if waiting.name == task.name:
                waiting_kwargs[merge].extend(kwargs[merge])
                break
    else:
        hook.calls.append((task, kwargs, what))
    # Every hint registers the hook (it sends once): a rollback to a savepoint
    # drops only the registrations made inside it, and the hook still leaves
    # with the commit if any hint outside that savepoint registered it.
    hook.registered_under.append(_open_savepoints())
    transaction.on_commit(hook, robust=True)
