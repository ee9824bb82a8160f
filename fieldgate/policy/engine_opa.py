"""The OPA server back end: ask an Open Policy Agent sidecar for each decision.

An agency that already runs Open Policy Agent can have the node ask it instead
of the embedded engine (node config ``[node.policy] engine = "opa"``). The node
POSTs the same input document to OPA's Data API,
``<url>/v1/data/<package path>/decision``, through ``opa-python-client``
(``pip install 'fieldgate[opa]'``), and treats the ``result`` exactly like the
embedded engine's answer. OPA must have the same contract, library and
``data.catalog`` loaded (see docs/contracts.md, "Running OPA as a sidecar").

Fail closed: a refused connection, a timeout, an HTTP error, a body that is not
OPA's JSON — every one raises :class:`fieldgate.policy.errors.ContractError`, and the node
withholds the record. An undefined decision (``{}`` without ``result``) is
returned as None, which the node also withholds.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from fieldgate.policy.engine import EVALUATION_TIMEOUT_SECONDS, T, contract_package
from fieldgate.policy.errors import ContractError

DEFAULT_OPA_PORT = 8181
"""OPA's default port, used when the URL names none."""

_MAX_WORKERS = 4


def parse_opa_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` → (host, port, TLS).

    Raises:
        ContractError: not an http(s) URL with a host and no path.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ContractError(f"OPA url {url!r} must be http://host:port or https://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ContractError(f"OPA url {url!r} must not have a path; the node adds /v1/data/...")
    try:
        port = parts.port or DEFAULT_OPA_PORT
    except ValueError as exc:
        raise ContractError(f"OPA url {url!r}: {exc}") from exc
    return parts.hostname, port, parts.scheme == "https"


class OpaContract:
    """A contract evaluated by an OPA server over its REST Data API.

    Evaluations may come from any thread; each one is bounded by ``timeout``
    seconds in all (connect and answer), after which it fails.
    """

    def __init__(
        self,
        url: str,
        package: str,
        *,
        timeout: float = EVALUATION_TIMEOUT_SECONDS,
        version: str = "",
    ) -> None:
        """Prepare the client; no connection is made until the first evaluation.

        Args:
            url: the OPA server, ``http://127.0.0.1:8181``.
            package: the contract's package, e.g. ``fieldgate.contracts.sanctuary_county``.
            timeout: seconds one evaluation may take in all.
            version: what the node reports as the contract version (the
                SHA-256 of the contract file it was configured with).

        Raises:
            ContractError: the URL is unusable or ``opa-python-client`` is not installed.
        """
        host, port, tls = parse_opa_url(url)
        try:
            from opa_client.opa import OpaClient
        except ImportError as exc:
            raise ContractError(
                "the OPA back end needs opa-python-client: pip install 'fieldgate[opa]'"
            ) from exc
        self.url = url
        self._package = package
        self._timeout = timeout
        self._version = version
        # No retries: a retry after a timeout would only spend the search's policy budget.
        self._client: Any = OpaClient(host=host, port=port, ssl=tls, timeout=timeout, retries=0)
        self._pool = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix=f"opa-{package}")
        self._lock = threading.Lock()
        self._closed = False
        # The server's policy can change under the node at any time, so a check
        # made at load would prove nothing: every record is asked about on its own.
        self.field_local = False

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in place: the server is asked over HTTP from any thread."""
        return work()

    @property
    def version(self) -> str:
        return self._version

    @property
    def name(self) -> str:
        return self._package

    def _query(self, policy_input: Mapping[str, object]) -> object:
        answer = self._client.query_rule(
            input_data=dict(policy_input), package_path=self._package, rule_name="decision"
        )
        if not isinstance(answer, dict):
            raise ContractError(f"OPA answered {type(answer).__name__}, not a JSON object")
        return answer.get("result")

    def evaluate(self, policy_input: Mapping[str, object]) -> object:
        """Ask OPA for ``data.<package>.decision``; any failure raises ContractError."""
        with self._lock:
            if self._closed:
                raise ContractError(f"{self._package}: the OPA client is closed")
            future = self._pool.submit(self._query, policy_input)
        try:
            return future.result(self._timeout)
        except FutureTimeout:
            future.cancel()
            raise ContractError(
                f"{self._package}: OPA at {self.url} did not answer within {self._timeout:.1f} s"
            ) from None
        except ContractError as exc:
            raise ContractError(f"{self._package}: {exc}") from exc
        except Exception as exc:  # requests' errors, JSON decoding: all fail closed
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise ContractError(f"{self._package}: OPA at {self.url} failed: {reason}") from exc

    def close(self) -> None:
        """Stop the worker threads and close the HTTP session."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close_connection()


def load_opa_contract(
    contract_path: Path, url: str, *, timeout: float = EVALUATION_TIMEOUT_SECONDS
) -> OpaContract:
    """An :class:`OpaContract` for the package the contract file declares.

    The node reads the file only for its package and its SHA-256 (reported as
    the contract version); OPA evaluates the copy it has loaded.

    Raises:
        ContractError: the file cannot be read or declares no package.
    """
    try:
        source = contract_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read contract {contract_path}: {exc}") from exc
    package = contract_package(source)
    if package is None:
        raise ContractError(f"{contract_path}: no package declaration")
    version = hashlib.sha256(source.encode()).hexdigest()
    return OpaContract(url, package, timeout=timeout, version=version)
