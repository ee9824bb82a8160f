"""The policy engine seam: load an agency's contract and ask it about one record.

Everything policy-specific sits behind :class:`ContractEngine`, so a second
back end (an OPA server, issue 5) replaces one class. The shipped back end runs
the contract in process through the embedded ``regorus`` engine.

A node that cannot load its contract runs with :class:`MissingContract`, which
answers every question with an error, so the node keeps answering searches and
releases nothing.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

import regorus

from fieldgate.policy.decision_cache import DecisionCache, deterministic_sources, freeze
from fieldgate.policy.errors import ContractError

_PACKAGE_LINE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_RULE_NAME = re.compile(r"[A-Za-z_]\w*")
T = TypeVar("T")


def contract_package(source: str) -> str | None:
    """The package a contract's source declares (``fieldgate.contracts.x``), or None."""
    match = _PACKAGE_LINE.search(source)
    return match.group(1) if match else None


class ContractEngine(Protocol):
    """What the node needs from a policy back end."""

    field_local: bool
    """Whether the node may ask once per kind of record (:mod:`fieldgate.policy.field_locality`).

    False until :func:`fieldgate.policy.field_locality.adopt_field_locality` has checked
    the contract's declaration; back ends that cannot be checked stay False.
    """

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` where this contract's evaluations cost least, and return its result.

        The embedded engine answers its own thread directly and every other
        thread through a hand-off, so a node decides all of a search's
        records in one ``run`` there; other back ends run ``work`` in place.
        """
        ...

    @property
    def version(self) -> str:
        """SHA-256 (hex) of the loaded contract sources; empty when none is loaded."""
        ...

    @property
    def name(self) -> str:
        """Human-readable name of the contract (its package)."""
        ...

    def evaluate(self, policy_input: Mapping[str, object]) -> object:
        """Return the contract's raw decision for one record.

        Raises:
            ContractError: the contract could not be evaluated.
        """
        ...

    def close(self) -> None:
        """Release the engine's resources."""
        ...


class MissingContract:
    """Stands in for a contract that is absent or failed to load: every evaluation fails."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.field_local = False

    def run(self, work: Callable[[], T]) -> T:
        return work()

    @property
    def version(self) -> str:
        return ""

    @property
    def name(self) -> str:
        return "(no contract)"

    def evaluate(self, policy_input: Mapping[str, object]) -> object:
        raise ContractError(f"no contract loaded: {self.reason}")

    def close(self) -> None:
        """Nothing to release."""


def _is_engine_failure(exc: BaseException) -> bool:
    """True for anything the engine raises, including its Rust panics.

    regorus reports a Rust panic as ``pyo3_runtime.PanicException``, which
    derives from ``BaseException``; it must fail closed like any other error,
    while interpreter exits and Ctrl-C pass through.
    """
    return not isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit)


def _first_line(exc: BaseException) -> str:
    """The engine's message without the Rust backtrace it appends."""
    text = str(exc).strip()
    return text.split("\n\nStack backtrace:")[0].strip()[:500]


EVALUATION_TIMEOUT_SECONDS = 2.0
"""An evaluation that takes longer than this fails, and the record is withheld."""

RUN_TIMEOUT_SECONDS = 30.0
"""The longest a caller waits for the engine's thread to finish one job (a
search's decisions): its policy budget is spent long before, so only a stuck
engine reaches it, and the search then fails with nothing released."""


class _EngineThread(Executor):
    """One thread that owns a regorus engine for the engine's whole life.

    A regorus engine may only be used, and dropped, by the thread that made
    it. Evaluations asked from other threads are handed to this thread and
    their results handed back (≈ 90 µs per round trip on a 2-core machine).
    The thread is also an :class:`~concurrent.futures.Executor`: a node decides
    all of a search's records here in one job (:meth:`RegorusContract.run`), so
    the search's evaluations are direct calls with no hand-off each.
    """

    def __init__(
        self,
        name: str,
        modules: tuple[tuple[Path, str], ...],
        data_json: str,
    ) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._closing = threading.Lock()
        self._engine: regorus.Engine | None = None
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(modules, data_json, ready), name=name, daemon=True
        )
        self._thread.start()
        ready.result()  # raises ContractError when a module does not parse

    def _run(
        self, modules: tuple[tuple[Path, str], ...], data_json: str, ready: Future[None]
    ) -> None:
        # The engine is only ever referenced through self._engine, never a local of
        # this frame: a job's traceback links back to this frame and can outlive
        # it, and whichever thread freed that would then drop the engine.
        if not self._load(modules, data_json, ready):
            return
        try:
            while (job := self._jobs.get()) is not None:
                job.run()
        finally:
            self._engine = None  # dropped here, on its own thread
            self._refuse_the_rest()

    def _refuse_the_rest(self) -> None:
        """Close for good and fail whatever is still queued (nobody is left to run it).

        After a close the queue is already empty (nothing is queued behind the
        stop); this matters when the thread ends any other way, so that no
        caller waits for ever.
        """
        with self._closing:
            self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(ContractError("the contract's engine has stopped"))

    def _load(
        self, modules: tuple[tuple[Path, str], ...], data_json: str, ready: Future[None]
    ) -> bool:
        self._engine = regorus.Engine()
        for path, text in modules:
            try:
                self._engine.add_policy(str(path), text)
            except BaseException as exc:
                if not _is_engine_failure(exc):
                    raise
                self._engine = None
                ready.set_exception(ContractError(f"{path}: {_first_line(exc)}"))
                return False
        self._engine.add_data_json(data_json)
        ready.set_result(None)
        return True

    @property
    def on_thread(self) -> bool:
        """Whether the caller is this engine's own thread."""
        return threading.current_thread() is self._thread

    def eval_here(self, query: str, input_json: str, timeout: float) -> object:
        """Evaluate on this thread; the caller must be it (:attr:`on_thread`).

        The engine keeps the GIL while it evaluates, so no other thread could
        have stopped it sooner: an evaluation past ``timeout`` fails when it
        returns, exactly as a handed-off one does.
        """
        if self._engine is None:
            raise ContractError("the contract's engine is closed")
        started = time.monotonic()
        # No local name for the engine: a frame kept alive by a traceback must
        # not hold it, or it would be dropped on whichever thread frees that.
        try:
            # Input goes in as JSON: regorus' Python conversion turns booleans into numbers.
            self._engine.set_input_json(input_json)
            result = self._engine.eval_rule(query)
        except BaseException as exc:
            if not _is_engine_failure(exc):
                raise
            raise ContractError(f"evaluation failed: {_first_line(exc)}") from None
        if time.monotonic() - started > timeout:
            raise ContractError(f"evaluation took longer than {timeout:.1f} s")
        return result

    def evaluate(self, query: str, input_json: str, timeout: float) -> object:
        """Evaluate ``query`` for one input, from any thread."""
        if self.on_thread:
            return self.eval_here(query, input_json, timeout)
        try:
            # Unbounded there: the answer is waited for here, at most ``timeout``.
            answer = self.submit(self.eval_here, query, input_json, float("inf"))
        except RuntimeError:
            raise ContractError("the contract's engine is closed") from None
        try:
            return answer.result(timeout)
        except TimeoutError:
            answer.cancel()
            raise ContractError(f"evaluation took longer than {timeout:.1f} s") from None

    def submit(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on the engine's thread.

        Raises:
            RuntimeError: the engine is closed (as any closed executor does).
        """
        future: Future[T] = Future()
        with self._closing:
            if self._closed:
                raise RuntimeError("the contract's engine is closed")
            self._jobs.put(_Job(future, functools.partial(fn, *args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the thread after the jobs already queued (the Executor interface)."""
        with self._closing:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
        # A search running here may retire its own engine: it cannot wait for itself.
        if wait and not self.on_thread:
            self._thread.join(timeout=EVALUATION_TIMEOUT_SECONDS * 2)

    def close(self) -> None:
        self.shutdown()


class _Job:
    """A callable queued for the engine's thread, with the future it answers."""

    __slots__ = ("call", "future")

    def __init__(self, future: Future[Any], call: Callable[[], object]) -> None:
        self.future = future
        self.call = call

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.call()
        except BaseException as exc:
            # Settled before anything else: whoever waits must not wait for ever,
            # even when the exception then ends the thread (the waiter is told
            # the engine stopped; the exit itself is this thread's to raise).
            if _is_engine_failure(exc):
                self.future.set_exception(exc)
            else:
                self.future.set_exception(ContractError(f"the contract's engine stopped: {exc!r}"))
                raise
        else:
            self.future.set_result(result)


class RegorusContract:
    """A contract evaluated in process by the embedded regorus engine.

    The engine lives on a thread of its own (see :class:`_EngineThread`);
    evaluations from any thread are serialised through it.
    """

    def __init__(
        self,
        contract_path: Path,
        library: Path | None,
        catalog_classes: Mapping[str, str],
        *,
        timeout: float = EVALUATION_TIMEOUT_SECONDS,
        version: str = "",
        data: Mapping[str, object] | None = None,
        cache_size: int = 0,
    ) -> None:
        """Load the contract, the shared library and the catalog.

        Args:
            contract_path: the contract's ``.rego`` file.
            library: directory of shared ``.rego`` modules (tests excluded), or None.
            catalog_classes: field name → sensitivity class, loaded as ``data.catalog``.
            timeout: seconds one evaluation may take before it counts as failed.
            version: the version to report (a signed bundle's revision); by
                default the SHA-256 of the loaded sources.
            data: further base documents (a bundle's ``data.json``); ``catalog`` stays the node's.
            cache_size: decisions to remember per distinct input (see
                :mod:`fieldgate.policy.decision_cache`); 0, the default, asks the engine every
                time and returns its raw, mutable result (what the authoring
                tools want). A contract that calls a builtin whose answer can
                change between calls (``time.now_ns``, ``rand.*``, ...) is never cached.

        Raises:
            ContractError: a file is missing or does not parse.
        """
        try:
            source = contract_path.read_text(encoding="utf-8")
            modules: list[tuple[Path, str]] = []
            if library is not None:
                for path in sorted(library.rglob("*.rego")):
                    if not path.name.endswith("_test.rego"):
                        modules.append((path, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(f"cannot read contract {contract_path}: {exc}") from exc
        package = contract_package(source)
        if package is None:
            raise ContractError(f"{contract_path}: no package declaration")
        modules.append((contract_path, source))
        self._package = package
        self._query = f"data.{self._package}.decision"
        self._timeout = timeout
        digest = hashlib.sha256()
        for path, text in modules:
            digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
        self._version = version or digest.hexdigest()
        data_json = json.dumps({**(data or {}), "catalog": dict(catalog_classes)}, sort_keys=True)
        digest.update(data_json.encode())
        self.sources_digest = digest.hexdigest()
        """SHA-256 of the modules *and* the data: what every decision is a function of."""
        self.field_local = False
        self._thread = _EngineThread(f"contract-{self._package}", tuple(modules), data_json)
        cacheable = cache_size > 0 and deterministic_sources(text for _, text in modules)
        self.cache: DecisionCache | None = DecisionCache(cache_size) if cacheable else None
        """Decisions by input, when caching is on and the contract is deterministic."""

    @property
    def executor(self) -> Executor:
        """The engine's own thread: evaluations asked there need no hand-off."""
        return self._thread

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the engine's thread (in place if already there or closed).

        Each evaluation in ``work`` is held to the time limit
        (:meth:`_EngineThread.eval_here`), and a node's search stops asking
        once its policy budget is spent; past :data:`RUN_TIMEOUT_SECONDS`
        the caller stops waiting all the same. The caller's context (the
        request id its log lines carry) goes with ``work``.

        Raises:
            ContractError: the engine did not finish ``work`` in time.
        """
        if self._thread.on_thread:
            return work()
        in_context = functools.partial(contextvars.copy_context().run, work)
        try:
            queued = self._thread.submit(in_context)
        except RuntimeError:
            # Closed by a bundle reload: each evaluation fails closed wherever it runs.
            return work()
        try:
            return queued.result(RUN_TIMEOUT_SECONDS)
        except TimeoutError:
            queued.cancel()
            raise ContractError(
                f"{self._package}: the engine did not answer in {RUN_TIMEOUT_SECONDS:.0f} s"
            ) from None

    @property
    def version(self) -> str:
        return self._version

    @property
    def name(self) -> str:
        return self._package

    def evaluate(self, policy_input: Mapping[str, object]) -> object:
        if self.cache is None:
            return self._ask(json.dumps(policy_input))
        # Canonical JSON: the same document always makes the same key.
        input_json = json.dumps(policy_input, sort_keys=True, separators=(",", ":"))
        found, decision = self.cache.get(input_json)
        if found:
            return decision
        decision = freeze(self._ask(input_json))
        self.cache.put(input_json, decision)
        return decision

    def _ask(self, input_json: str) -> object:
        try:
            return self._thread.evaluate(self._query, input_json, self._timeout)
        except ContractError as exc:
            raise ContractError(f"{self._package}: {exc}") from exc

    def evaluate_rule(self, rule: str, policy_input: Mapping[str, object]) -> object:
        """Evaluate another rule of the contract's package for one input (authoring tools).

        ``fieldgate contract render`` asks which annotated rules hold for a
        requester; the node itself only ever asks for ``decision``.

        Raises:
            ContractError: ``rule`` is not a rule name, or the evaluation failed.
        """
        if not _RULE_NAME.fullmatch(rule):
            raise ContractError(f"{rule!r} is not a rule name")
        try:
            return self._thread.evaluate(
                f"data.{self._package}.{rule}", json.dumps(policy_input), self._timeout
            )
        except ContractError as exc:
            raise ContractError(f"{self._package}.{rule}: {exc}") from exc

    def close(self) -> None:
        """Stop the engine's thread."""
        self._thread.close()
