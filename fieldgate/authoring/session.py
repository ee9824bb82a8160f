"""A contract loaded the way a node loads it, deciding records the way a node decides them.

:class:`ContractSession` holds the node's own embedded engine
(:class:`fieldgate.policy.engine.RegorusContract`, the shared library and the catalog as
``data.catalog``) and decides through :func:`fieldgate.policy.evaluate.evaluate_record`. A
contract that does not load is an error here (:class:`fieldgate.policy.errors.ContractError`),
not a node that quietly releases nothing: the author has to know.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import TracebackType

from fieldgate.core.claims import RequesterClaims
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.engine import RegorusContract
from fieldgate.policy.evaluate import PolicyDecision, evaluate_record
from fieldgate.policy.records import Record

DEFAULT_NODE_ID = "node"
"""``input.record.agency`` the tools send unless told the node's id."""


def find_library(contract: Path) -> Path | None:
    """The ``lib/`` of the contract's nearest ancestor directory, as the test runner finds it.

    The walk stops at the project boundary (a directory holding ``.git`` or
    ``pyproject.toml``).
    """
    start = contract.absolute().parent
    for candidate in (start, *start.parents):
        if candidate.parent == candidate:
            return None
        if (candidate / "lib").is_dir():
            return candidate / "lib"
        if (candidate / ".git").exists() or (candidate / "pyproject.toml").exists():
            return None
    return None


class ContractSession:
    """One contract in the node's embedded engine, with the node's catalog.

    Use it as a context manager: the engine runs on a thread of its own until
    :meth:`close`.
    """

    def __init__(
        self,
        contract: Path,
        library: Path | None,
        catalog: FieldCatalog,
        *,
        node_id: str = DEFAULT_NODE_ID,
        today: dt.date | None = None,
    ) -> None:
        """Load the contract.

        Args:
            contract: the contract's ``.rego`` file.
            library: the shared library directory (``rego/lib``), or None.
            catalog: the node's field catalog.
            node_id: the node id sent as ``input.record.agency``.
            today: the date warrants are judged on; default the real today.

        Raises:
            node.errors.ContractError: a file is missing or does not parse.
        """
        self.path = contract
        self.library = library
        self.catalog = catalog
        self.node_id = node_id
        self.today = today or dt.date.today()
        self.engine = RegorusContract(contract, library, catalog.classes())

    @property
    def package(self) -> str:
        """The contract's package, e.g. ``fieldgate.contracts.sanctuary_county``."""
        return self.engine.name

    @property
    def version(self) -> str:
        """SHA-256 of the loaded sources, as the node reports it."""
        return self.engine.version

    def decide(self, claims: RequesterClaims, record: Record) -> PolicyDecision:
        """The node's decision on ``record`` for ``claims`` (input, raw decision, verdict)."""
        return evaluate_record(
            self.engine, claims, record, self.catalog, node_id=self.node_id, today=self.today
        )

    def rule(self, rule: str, policy_input: dict[str, object]) -> object:
        """Evaluate another rule of the contract's package for ``policy_input``.

        Raises:
            node.errors.ContractError: the rule could not be evaluated.
        """
        return self.engine.evaluate_rule(rule, policy_input)

    def close(self) -> None:
        """Stop the engine."""
        self.engine.close()

    def __enter__(self) -> ContractSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
