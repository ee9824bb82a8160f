"""Group commit: audit entries that arrive together share one transaction and one fsync.

Every search's entry must be on disk before its answer leaves the node, so a
busy node used to pay one transaction and one ``fsync`` per search, one after
another behind the store's lock. With :class:`GroupCommit` the first writer
to arrive leads: it commits its own entry together with every entry that
queued up while the previous transaction was running, then hands the lead
to the next writer waiting, if any. Each writer still returns only once its
own entry is committed, and a failed transaction fails every entry in it:
"durable before it leaves" holds entry by entry. A writer alone (a quiet
node, or one search at a time) commits alone, exactly as before, with no
added wait: nothing is ever held back to fill a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from fieldgate.node.errors import DisclosureLogError

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 256
"""Entries one transaction takes at most (bounds how long a leader writes for others)."""


class _Slot(Generic[Item, Result]):
    """One writer's entry, waiting for its transaction (or for the lead)."""

    __slots__ = ("error", "item", "lead", "ready", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.ready = threading.Event()
        self.lead = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Commits concurrent writers' items in shared batches.

    Args:
        commit: writes a batch in one transaction and returns one result per
            item, in order; raises if nothing of the batch was written.
        max_batch: the most items one call of ``commit`` is given.
    """

    def __init__(
        self, commit: Callable[[Sequence[Item]], Sequence[Result]], max_batch: int = MAX_BATCH
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queued: list[_Slot[Item, Result]] = []
        self._leading = False
        self.batches = 0
        """Transactions committed so far (the mean batch is ``items / batches``)."""
        self.items = 0
        """Items committed so far."""

    @property
    def leading(self) -> bool:
        """Whether a writer is committing a batch (or waiting to) right now."""
        with self._lock:
            return self._leading

    @property
    def queued(self) -> int:
        """Writers waiting for a transaction to take their entry."""
        with self._lock:
            return len(self._queued)

    def submit(self, item: Item) -> Result:
        """Commit ``item`` (with whatever else is waiting) and return its result.

        Raises:
            DisclosureLogError: the transaction that carried ``item`` failed.
        """
        slot: _Slot[Item, Result] = _Slot(item)
        with self._lock:
            self._queued.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            try:
                slot.ready.wait()
            except BaseException:
                self._abandon(slot)
                raise
            if not slot.lead:
                return self._outcome(slot)
        self._lead()
        return self._outcome(slot)

    def _abandon(self, slot: _Slot[Item, Result]) -> None:
        """A waiting writer leaves (interrupted): drop its entry, pass on a lead it was given."""
        with self._lock:
            if slot in self._queued:
                self._queued.remove(slot)
            if not slot.lead:
                return  # still queued (now removed) or already in a batch
            slot.lead = False
            if self._queued:
                self._queued[0].lead = True
                self._queued[0].ready.set()
            else:
                self._leading = False

    def _lead(self) -> None:
        # The leader's own slot is first in the queue: nobody else takes from it
        # while a leader is active, and the lead passes to the queue's head.
        with self._lock:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
        try:
            results = self._commit([s.item for s in batch])
        except Exception as exc:
            for s in batch:
                s.error = exc
        except BaseException as exc:
            # An interrupt or exit: the other writers are told their entry failed;
            # the leader's own thread gets the interrupt itself, below.
            for s in batch:
                s.error = DisclosureLogError(f"the audit write was interrupted: {exc!r}")
            raise
        else:
            for s, result in zip(batch, results, strict=True):
                s.result = result
            self.batches += 1
            self.items += len(batch)
        finally:
            with self._lock:
                if self._queued:
                    self._queued[0].lead = True
                    self._queued[0].ready.set()
                else:
                    self._leading = False
            for s in batch:
                s.ready.set()

    @staticmethod
    def _outcome(slot: _Slot[Item, Result]) -> Result:
        if slot.error is not None:
            if isinstance(slot.error, DisclosureLogError):
                # A fresh exception per writer: one instance raised on many threads
                # would collect all their tracebacks.
                raise DisclosureLogError(str(slot.error)) from slot.error
            raise DisclosureLogError(f"the audit write failed: {slot.error!r}") from slot.error
        return slot.result  # type: ignore[return-value]
