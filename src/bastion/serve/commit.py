"""Group commit: concurrent requests share one store transaction.

Every request hands its :class:`~bastion.serve.store.Charge` to one writer thread and waits.
The thread takes whatever has queued up while the previous transaction was being made
durable, commits it as one group (one ``fsync`` for all), and wakes each request with its
own :class:`~bastion.serve.store.Outcome`. Under load the groups grow by themselves, so
durability costs one disk flush per group, not per request.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from bastion.serve.store import Charge, Store, StoreUnavailableError

logger = logging.getLogger("bastion.serve")
_STOP = object()


class GroupCommitter:
    """One writer thread in front of a :class:`~bastion.serve.store.Store`.

    Args:
        store: where charges are committed.
        max_group: the most charges in one transaction.
    """

    def __init__(self, store: Store, *, max_group: int = 256) -> None:
        self.store = store
        self.max_group = max_group
        self.groups = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="bastion-group-commit", daemon=True)
        self._thread.start()

    def submit(self, charge: Charge) -> Future:
        """Queue a charge; the future resolves to its Outcome, or raises StoreUnavailableError."""
        future: Future = Future()
        if not self._thread.is_alive():
            future.set_exception(StoreUnavailableError("the audit-log writer has stopped"))
            return future
        self._queue.put((charge, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in group):
                stopping = True
                group = [item for item in group if item is not _STOP]
            if group:
                self._commit(group)

    def _commit(self, group: list) -> None:
        charges = [charge for charge, _ in group]
        try:
            outcomes = self.store.commit(charges)
        except StoreUnavailableError as error:
            logger.error("audit log unavailable, refusing %d queries: %s", len(group), error)
            for _, future in group:
                future.set_exception(error)
            return
        except Exception as error:  # a bug must fail closed too, never answer unlogged
            logger.exception("audit log commit failed")
            for _, future in group:
                future.set_exception(StoreUnavailableError(f"commit failed: {type(error).__name__}"))
            return
        self.groups += 1
        for (_, future), outcome in zip(group, outcomes):
            future.set_result(outcome)
