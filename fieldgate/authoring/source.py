"""Reading Rego source text: string literals and clause comments.

Two authoring tools read the source rather than ask the contract:

- ``fieldgate contract check`` looks at every string literal that looks like a
  name (``"adress"``) because a misspelt field name matches nothing and so
  never shows up in any decision — it silently withholds;
- ``fieldgate contract render`` links rules to the ordinance or agreement
  clause named in the comment block above them::

      # clause: King County Code 2.15.020(B) -- no information to civil immigration
      immigration_enforcement_with_warrant if { ... }

  The OPA ``# METADATA`` style works too: a ``clause:`` line anywhere in the
  block (``#   clause: KCC 2.15.020(B)`` under ``custom:``) names the clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME_LIKE = re.compile(r"[a-z][a-z0-9_]{2,63}")
_CLAUSE = re.compile(r"^\s*#\s*(?:custom\.)?clause\s*:\s*(.+?)\s*$")
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\s*(\()?")
_KEYWORDS = frozenset({"package", "import", "default"})


@dataclass(frozen=True)
class StringLiteral:
    """One string literal of the source.

    Attributes:
        value: its value (escapes of a double-quoted string left as written).
        line: 1-based line it starts on.
    """

    value: str
    line: int


@dataclass(frozen=True)
class Clause:
    """An ordinance or agreement clause named above a rule.

    Attributes:
        text: the clause as written after ``clause:``.
        rule: the rule it is attached to.
        line: 1-based line of the rule head.
        function: True when the rule is a function (it cannot be asked alone).
    """

    text: str
    rule: str
    line: int
    function: bool


def string_literals(source: str) -> list[StringLiteral]:
    """Every string literal (``"..."`` and raw ``` `...` ```) outside comments, in order."""
    found: list[StringLiteral] = []
    i, line, n = 0, 1, len(source)
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c == "#":
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif c in '"`':
            start_line, j, chars = line, i + 1, []
            while j < n and source[j] != c:
                if c == '"' and source[j] == "\\" and j + 1 < n:
                    chars.append(source[j : j + 2])
                    j += 2
                    continue
                if source[j] == "\n":
                    line += 1
                chars.append(source[j])
                j += 1
            found.append(StringLiteral("".join(chars), start_line))
            i = j + 1
        else:
            i += 1
    return found


def name_like_literals(source: str) -> list[StringLiteral]:
    """String literals that could be a field, class or vocabulary name (``snake_case``)."""
    return [s for s in string_literals(source) if _NAME_LIKE.fullmatch(s.value)]


def clauses(source: str) -> list[Clause]:
    """Clauses named in the comment block directly above each rule head."""
    found: list[Clause] = []
    pending: list[str] = []
    for number, text in enumerate(source.splitlines(), start=1):
        if text.lstrip().startswith("#"):
            match = _CLAUSE.match(text)
            if match:
                pending.append(match.group(1))
            continue
        if not text.strip():
            pending = []  # a blank line ends the block
            continue
        head = _RULE_HEAD.match(text) if not text[0].isspace() else None
        if head and head.group(1) not in _KEYWORDS and pending:
            function = head.group(2) is not None
            found.extend(Clause(t, head.group(1), number, function) for t in pending)
        pending = []
    return found
