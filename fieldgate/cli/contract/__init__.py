"""``fieldgate contract``: test, check, explain, diff, render, cross-check and bundle contracts.

One module per subcommand (:mod:`.test`, :mod:`.check`, :mod:`.explain`,
:mod:`.diff` with :mod:`.replay`, :mod:`.render`, :mod:`.conformance`,
:mod:`.bundle`) and the options they share in :mod:`.options`. The work is done
in :mod:`fieldgate.authoring` and :mod:`fieldgate.policy`; these commands read
files, call it and print tables or ``--json``.
"""

from __future__ import annotations

import click

from fieldgate.cli.contract.bundle import bundle
from fieldgate.cli.contract.check import contract_check
from fieldgate.cli.contract.conformance import contract_conformance
from fieldgate.cli.contract.diff import contract_diff
from fieldgate.cli.contract.explain import contract_explain
from fieldgate.cli.contract.render import contract_render
from fieldgate.cli.contract.test import contract_test


@click.group()
def contract() -> None:
    """Work with data-sharing contracts (Rego)."""


for _command in (
    contract_test,
    contract_check,
    contract_explain,
    contract_render,
    contract_conformance,
    contract_diff,
    bundle,
):
    contract.add_command(_command)
