"""Text from outside is inert: shown, never obeyed, by terminals and spreadsheets.

Every string a requester, a node or a record supplied (a case number, a
subject, a record id, a unit name, a contract's message) reaches an operator's
screen or a spreadsheet sooner or later. Such text must never drive the tool
that shows it:

- **terminals** interpret control characters and escape sequences (ESC ``[``
  ... moves the cursor, rewrites earlier lines, sets the window title, and on
  some terminals answers back): :func:`terminal_safe` replaces every control
  and format character with a visible ``\\xNN`` / ``\\uNNNN`` escape;
- **rich** interprets ``[bold]`` / ``[/x]`` as markup (and crashes on an
  unbalanced closing tag): callers put :func:`terminal_safe` text into a
  ``rich.text.Text`` (never a markup string), or use :func:`markup_safe` where
  a markup string is unavoidable;
- **spreadsheets** run a cell that starts with ``=``, ``+``, ``-``, ``@``, tab
  or carriage return as a formula (``=HYPERLINK(...)``, DDE):
  :func:`csv_safe` prefixes such a cell with a single quote, as the OWASP CSV
  injection guidance recommends.

The module depends on nothing but the standard library and ``rich.markup``,
so every layer (reports, client renderers, the CLI) uses this one helper.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.markup import escape as _rich_escape

__all__ = ["csv_safe", "markup_safe", "terminal_safe"]

# Categories that a terminal may act on or that hide or reorder what is shown:
# controls (Cc: ESC, BEL, backspace, CR...), format characters (Cf: bidi
# overrides, zero-width joiners), line and paragraph separators, surrogates
# and unassigned code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

# Spreadsheet formula triggers (OWASP "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(value: Any, *, keep_newlines: bool = False) -> str:
    """``value`` as text a terminal shows and never obeys.

    Control, format, separator, surrogate and unassigned characters become
    visible escapes (``\\x1b`` for ESC); everything else, including letters of
    every script, is kept. Never raises, whatever ``value`` is.

    Args:
        value: anything; non-strings are shown with ``str``.
        keep_newlines: keep ``\\n`` (for multi-line cells the caller builds);
            other controls are still escaped.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to do
        return text
    out = []
    for char in text:
        kept = (char == "\n" and keep_newlines) or char == " "
        if kept or unicodedata.category(char) not in _UNSAFE_CATEGORIES:
            out.append(char)
        else:
            out.append(_escaped(char))
    return "".join(out)


def markup_safe(value: Any) -> str:
    """``value`` for interpolation into a rich markup string: terminal-safe and markup-escaped."""
    return _rich_escape(terminal_safe(value))


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text and never runs as a formula.

    Strings starting with ``= + - @``, tab or carriage return get a leading
    single quote (OWASP CSV injection guidance); other values are returned
    unchanged. The CSV module itself quotes separators and newlines.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
