"""Every CLI command, walked with bad input: never a traceback, always a message naming the fault.

The command tree is read from :data:`fieldgate.cli.main.cli` (a new command is
walked without editing this test). Each command gets: an unknown flag; for
each option, a value of the wrong kind (a word for a number, an unknown
choice, an impossible date, a missing file); and a run with every parameter
filled with junk (files that hold garbage, words where names go), so that the
command's own body meets bad input rather than only click's checks. Each run
goes through :func:`fieldgate.cli.main.main`, as the installed ``fieldgate``
does: an exception escaping it is exactly a traceback the user would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fieldgate.cli.main import cli, main

LONG_RUNNING = {("demo",), ("sample",), ("pki", "ca")}
"""Commands whose junk run is a valid run (the whole demo; sample data written into any
directory; a CA made in any empty directory): walked with bad flags and values only."""


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = sorted(_commands(cli))


def _run(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``fieldgate ARGS`` in-process the way the console script does: (exit status, output)."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _), _chdir(cwd):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        output = out.getvalue().decode(errors="replace") + err.getvalue().decode(errors="replace")
    return code, output


class _chdir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.old = Path.cwd()

    def __enter__(self) -> None:
        import os

        os.chdir(self.path)

    def __exit__(self, *exc: object) -> None:
        import os

        os.chdir(self.old)


def _junk_file(tmp_path: Path) -> Path:
    junk = tmp_path / "junk-input.txt"
    junk.write_bytes(b"\x00\xffnot [/x] what you think\x1b[31m\n")
    return junk


def _bad_value(param: click.Parameter, tmp_path: Path) -> str | None:
    """A value click itself must refuse for ``param`` (None: click accepts any text)."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return "no-such-choice"
    if isinstance(kind, click.DateTime):
        return "1980-02-30"
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return "not-a-number"
    if isinstance(kind, click.Path) and kind.exists:
        return str(tmp_path / "does-not-exist.txt")
    return None


def _junk_value(param: click.Parameter, tmp_path: Path) -> str:
    """A value click accepts but the command's body has to judge."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.DateTime):
        return "2020-01-01"
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    if isinstance(kind, click.Path):
        if kind.dir_okay and not kind.file_okay:
            return str(tmp_path)
        return str(_junk_file(tmp_path))
    return "junk [/x]"


def _assert_clean(code: int, output: str, args: list[str]) -> None:
    assert "Traceback" not in output, (args, output)
    assert code != 0, (args, output)
    assert output.strip(), (args, "no message at all")


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_an_unknown_flag_is_named(path: tuple[str, ...], tmp_path: Path) -> None:
    code, output = _run([*path, "--no-such-flag"], tmp_path)
    _assert_clean(code, output, [*path])
    assert "--no-such-flag" in output


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_value_of_the_wrong_kind_is_named(path: tuple[str, ...], tmp_path: Path) -> None:
    command = _command(path)
    for param in command.params:
        if not isinstance(param, click.Option) or param.is_flag:
            continue
        bad = _bad_value(param, tmp_path)
        if bad is None:
            continue
        flag = max(param.opts, key=len)
        args = [*path, flag, bad]
        code, output = _run(args, tmp_path)
        _assert_clean(code, output, args)
        # The message names what was wrong: this option, or a required one still missing.
        assert flag in output or "Missing" in output, (args, output)


@pytest.mark.parametrize("every_option", [False, True], ids=["required", "every option"])
@pytest.mark.parametrize("path", [p for p in COMMANDS if p not in LONG_RUNNING], ids=" ".join)
def test_junk_everywhere_gets_a_message_not_a_traceback(
    path: tuple[str, ...], every_option: bool, tmp_path: Path
) -> None:
    command = _command(path)
    args: list[str] = [*path]
    for param in command.params:
        if isinstance(param, click.Option):
            if param.is_flag or not (param.required or every_option):
                continue
            args += [max(param.opts, key=len), _junk_value(param, tmp_path)]
        elif isinstance(param, click.Argument):
            args.append(_junk_value(param, tmp_path))
    code, output = _run(args, tmp_path)
    _assert_clean(code, output, args)
    # The message names the thing at fault: the junk file, a value given, or an option.
    assert "junk" in output or "--" in output or "error" in output.lower(), (args, output)
