"""Conformance: the same contract, decided by independent Rego engines, must agree.

``fieldgate contract conformance`` asks every contract about every persona x
example record (and, with ``matrix=True``, every cell of the decision matrix)
through the node's embedded engine (regorus) and through regopy (Microsoft's
rego-cpp, a second implementation written independently), and compares

- the raw decisions, canonically (sets and arrays compared as sorted lists,
  since the node reads ``release`` as a set), and
- the node's verdicts on them (:func:`fieldgate.policy.verdict.decide_fields`): what
  would leave, field by field, masks and values included.

It also runs every contract test suite on both engines and compares the
outcome of every ``test_`` rule. Any difference is a disagreement and fails.

regopy runs in a child process (:mod:`fieldgate.policy.regopy_harness`, the
harness the contract test runner uses too): rego-cpp 1.5.2 can crash outright
(a segmentation fault), and a crash must become a reported failure, not kill
the tool. A third engine, an OPA server
(:class:`fieldgate.policy.engine_opa.OpaContract`), joins the comparison when given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldgate.authoring.inputs import Persona
from fieldgate.authoring.matrix import decision_matrix, full_record
from fieldgate.authoring.session import ContractSession
from fieldgate.policy import rego_tests as regotest
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.errors import ContractError
from fieldgate.policy.evaluate import build_policy_input
from fieldgate.policy.records import Record
from fieldgate.policy.regopy_harness import error_tree, new_interpreter, run_in_child
from fieldgate.policy.verdict import RecordVerdict, decide_fields


@dataclass(frozen=True)
class Disagreement:
    """Two engines that decided one question differently.

    Attributes:
        contract: the contract's package.
        case: what was asked (``persona × record``, a matrix cell, or a test rule).
        engine: the engine that disagreed with regorus.
        what: ``decision``, ``verdict`` or ``test``.
        regorus: regorus' answer (canonical JSON).
        other: the other engine's answer (canonical JSON), or its error.
    """

    contract: str
    case: str
    engine: str
    what: str
    regorus: str
    other: str


def canonical(value: object) -> Any:
    """``value`` with sets and arrays as sorted lists and objects with sorted keys."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _text(value: object) -> str:
    return json.dumps(canonical(value), sort_keys=True)


def _verdict_text(verdict: RecordVerdict) -> str:
    return _text(
        {
            "disclose": verdict.disclose,
            "error": bool(verdict.error),
            "fields": {f.name: [f.outcome, f.mask, f.value] for f in verdict.fields},
        }
    )


def regopy_decisions(
    session: ContractSession, inputs: list[dict[str, object]], *, timeout: float = 300.0
) -> list[dict[str, object]]:
    """Evaluate the session's contract with regopy, in a child process, once per input.

    Returns:
        One ``{"value": ...}`` (None for undefined) or ``{"error": "..."}`` per input.

    Raises:
        ContractError: regopy crashed, timed out, is not installed or could not
            load the contract.
    """
    modules = []
    if session.library is not None:
        for path in sorted(session.library.rglob("*.rego")):
            if not path.name.endswith("_test.rego"):
                modules.append([str(path), path.read_text(encoding="utf-8")])
    modules.append([str(session.path), session.path.read_text(encoding="utf-8")])
    payload = {
        "modules": modules,
        "data": json.dumps({"catalog": session.catalog.classes()}),
        "query": f"data.{session.package}.decision",
        "inputs": [json.dumps(i) for i in inputs],
    }
    answer = run_in_child(_regopy_decisions_job, payload, timeout=timeout)
    if "error" in answer:
        raise ContractError(f"regopy: {answer['error']}")
    results: list[dict[str, object]] = answer["results"]
    return results


def _regopy_decisions_job(payload: dict[str, Any]) -> dict[str, object]:
    """Run in the regopy child (see :mod:`fieldgate.policy.regopy_harness`): the decisions."""
    try:
        interpreter = new_interpreter()
    except ImportError as error:
        return {"error": f"regopy is not installed ({error})"}
    import regopy

    try:
        for path, text in payload["modules"]:
            interpreter.add_module(path, text)
        interpreter.add_data_json(payload["data"])
    except regopy.RegoError as error:
        return {"error": f"cannot load: {error}"}
    results: list[dict[str, object]] = []
    for input_json in payload["inputs"]:
        interpreter.set_input_term(input_json)
        output = interpreter.query(payload["query"])
        if not output.ok():
            results.append({"error": error_tree(output)[:500]})
        elif str(output) == "undefined":
            results.append({"value": None})
        else:
            results.append({"value": output[0].expressions[0]})
    return {"results": results}


def _questions(
    session: ContractSession, personas: list[Persona], records: list[Record], matrix: bool
) -> list[tuple[str, Record, dict[str, object]]]:
    """(case label, record, policy input) for every question to put to every engine."""
    found = []
    for persona in personas:
        for record in records:
            policy_input = build_policy_input(
                persona.claims, record, node_id=session.node_id, today=session.today
            )
            found.append((f"{persona.name} × {record.record_id}", record, policy_input))
    if matrix:
        for cell in decision_matrix(session):
            if cell.decision.policy_input is not None:
                label = (
                    f"matrix {cell.agency_type}/{cell.purpose}/"
                    f"{'warrant' if cell.warrant else 'no warrant'}/{cell.record_kind}"
                )
                record = full_record(session.catalog, cell.record_kind)
                found.append((label, record, cell.decision.policy_input))
    return found


def compare_decisions(
    session: ContractSession,
    personas: list[Persona],
    records: list[Record],
    *,
    matrix: bool = False,
    others: Mapping[str, ContractEngine] | None = None,
) -> tuple[int, list[Disagreement]]:
    """Ask regorus, regopy and ``others`` every question; return the count and the differences."""
    questions = _questions(session, personas, records, matrix)
    inputs = [q[2] for q in questions]
    answers: dict[str, list[dict[str, object]]] = {"regopy": regopy_decisions(session, inputs)}
    for name, other_engine in (others or {}).items():
        answers[name] = [_ask(other_engine, i) for i in inputs]
    disagreements = []
    for index, (case, record, policy_input) in enumerate(questions):
        mine = _ask(session.engine, policy_input)
        for engine, results in answers.items():
            theirs = results[index]
            if "error" in mine or "error" in theirs:
                if ("error" in mine) != ("error" in theirs):
                    disagreements.append(
                        Disagreement(
                            session.package,
                            case,
                            engine,
                            "decision",
                            str(mine.get("error") or _text(mine["value"])),
                            str(theirs.get("error") or _text(theirs["value"])),
                        )
                    )
                continue
            if _text(mine["value"]) != _text(theirs["value"]):
                disagreements.append(
                    Disagreement(
                        session.package,
                        case,
                        engine,
                        "decision",
                        _text(mine["value"]),
                        _text(theirs["value"]),
                    )
                )
                continue
            ours = _verdict_text(decide_fields(mine["value"], record, session.catalog))
            other = _verdict_text(decide_fields(theirs["value"], record, session.catalog))
            if ours != other:
                disagreements.append(
                    Disagreement(session.package, case, engine, "verdict", ours, other)
                )
    return len(questions), disagreements


def _ask(engine: ContractEngine, policy_input: dict[str, object]) -> dict[str, object]:
    try:
        return {"value": engine.evaluate(policy_input)}
    except ContractError as exc:
        return {"error": str(exc)}


def compare_tests(root: Path) -> tuple[int, list[Disagreement]]:
    """Run every test suite under ``root`` on regorus and on regopy; compare every outcome."""
    count, disagreements = 0, []
    for suite in regotest.discover(root):
        ours = {(r.package, r.name): r for r in regotest.run_suite(suite).results}
        theirs = {(r.package, r.name): r for r in regotest.cross_check_with_regopy(suite)}
        unloaded = [r for r in (*ours.values(), *theirs.values()) if r.name == regotest.LOAD_ERROR]
        if (
            unloaded
        ):  # one engine could not run the suite at all: one disagreement, not one per rule
            count += max(len(ours), len(theirs))
            if len(unloaded) == 1 or unloaded[0].message != unloaded[1].message:
                a, b = ours.get(("", regotest.LOAD_ERROR)), theirs.get(("", regotest.LOAD_ERROR))
                disagreements.append(
                    Disagreement(
                        str(suite.directory),
                        "(whole suite)",
                        "regopy",
                        "test",
                        a.message if a else f"{len(ours)} rules run",
                        b.message if b else f"{len(theirs)} rules run",
                    )
                )
            continue
        for key in sorted(set(ours) | set(theirs)):
            count += 1
            a, b = ours.get(key), theirs.get(key)
            if a is None or b is None or a.outcome != b.outcome:
                disagreements.append(
                    Disagreement(
                        key[0] or str(suite.directory),
                        key[1],
                        "regopy",
                        "test",
                        f"{a.outcome}: {a.message}" if a else "(not run)",
                        f"{b.outcome}: {b.message}" if b else "(not run)",
                    )
                )
    return count, disagreements
