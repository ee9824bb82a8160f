"""Reading one process's TOML configuration with environment overrides.

Every process (node, broker) has one TOML file whose settings sit in one
table (``[node]``, ``[broker]``). Any scalar key of that table can be
overridden from the environment: ``FIELDGATE_<TABLE>__<KEY>`` upper case, e.g.
``FIELDGATE_NODE__LISTEN=0.0.0.0:7000`` sets ``listen`` in ``[node]``, and
``FIELDGATE_NODE__CONTACT__PHONE`` sets ``phone`` in ``[node.contact]``. The
environment arrives as a mapping so tests never touch ``os.environ``.

:class:`Section` reads typed values and names the full dotted key in every
error, and refuses keys it does not know so a typo is not silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldgate.core.errors import FieldgateError


class ConfigError(FieldgateError):
    """A configuration file or override that cannot be used.

    Attributes:
        key: dotted key at fault (e.g. ``node.listen``), or "" for the whole file.
        reason: what is wrong.
    """

    def __init__(self, key: str, reason: str, source: str = "") -> None:
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key or 'config'}: {reason}")
        self.key = key
        self.reason = reason


class EnvValue(str):
    """A setting's text as it came from an environment variable, remembering which one.

    Errors about it name the variable (a bad value set in a Kubernetes manifest
    is otherwise hard to find).
    """

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvValue:
        """``value`` as read from ``variable``."""
        text = super().__new__(cls, value)
        text.variable = variable
        return text


def read_toml(path: Path, *, env: Mapping[str, str], table: str) -> dict[str, Any]:
    """Read ``path`` and apply the ``FIELDGATE_<TABLE>__*`` overrides found in ``env``."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}", str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("", "not a UTF-8 text file (is this the config?)", str(path)) from None
    except IsADirectoryError:
        raise ConfigError("", "is a directory, not a config file", str(path)) from None
    marker = f"FIELDGATE_{table.upper()}__"
    for name, value in env.items():
        if not name.startswith(marker):
            continue
        keys = [table, *(k.lower() for k in name[len(marker) :].split("__") if k)]
        if len(keys) < 2:
            continue
        target: dict[str, Any] = document
        for key in keys[:-1]:
            inner = target.setdefault(key, {})
            if not isinstance(inner, dict):
                raise ConfigError(".".join(keys), f"override {name} names a value, not a table")
            target = inner
        target[keys[-1]] = EnvValue(value, name)
    return document


class Section:
    """Typed, checked access to one table of a configuration document."""

    def __init__(self, table: Mapping[str, Any], name: str, base: Path) -> None:
        """Wrap ``table`` found at dotted ``name``; relative paths resolve against ``base``."""
        self._table = table
        self._name = name
        self._base = base
        self._read: set[str] = set()

    def _error(self, key: str, reason: str) -> ConfigError:
        """The error for ``key``, naming the environment variable if the value came from one."""
        value = self._table.get(key)
        if isinstance(value, EnvValue):
            reason = f"{reason} (set by environment variable {value.variable})"
        return ConfigError(self._key(key), reason)

    def key_name(self, key: str) -> str:
        """The full dotted name of ``key`` in this table, for errors raised by callers."""
        return self._key(key)

    def _key(self, key: str) -> str:
        return f"{self._name}.{key}" if self._name else key

    def _raw(self, key: str, default: Any) -> Any:
        self._read.add(key)
        if key not in self._table:
            if default is ...:
                raise self._error(key, "is required")
            return default
        return self._table[key]

    def string(self, key: str, default: Any = ...) -> str:
        """A non-empty string."""
        value = self._raw(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self._error(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def number(self, key: str, default: Any = ..., *, minimum: float = 0.0) -> float:
        """A number (environment strings are parsed) not below ``minimum``."""
        value = self._raw(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._error(key, f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or number < minimum:
            raise self._error(key, f"must be a number ≥ {minimum}, not {value!r}")
        return number

    def integer(self, key: str, default: Any = ..., *, minimum: int = 0) -> int:
        """An integer (environment strings are parsed) not below ``minimum``."""
        value = self._raw(key, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self._error(key, f"must be an integer, not {value!r}") from None
        if isinstance(value, bool | float) or number < minimum:
            raise self._error(key, f"must be an integer ≥ {minimum}, not {value!r}")
        return number

    def boolean(self, key: str, default: Any = ...) -> bool:
        """A boolean (environment strings true/false/1/0/yes/no are parsed)."""
        value = self._raw(key, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        raise self._error(key, f"must be true or false, not {value!r}")

    def string_list(self, key: str, default: Any = ...) -> tuple[str, ...]:
        """A non-empty list of non-empty strings."""
        value = self._raw(key, default)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self._error(key, f"must be a non-empty list of strings, not {value!r}")
        return tuple(v.strip() for v in value)

    def names(self) -> list[str]:
        """The table's keys (for tables whose keys are data, e.g. a column mapping)."""
        return list(self._table)

    def has(self, key: str) -> bool:
        """Whether ``key`` is present (absent optional tables stay absent)."""
        return key in self._table

    def path(self, key: str, default: Any = ...) -> Path:
        """A file-system path, relative to the config file's directory."""
        value = Path(self.string(key, default)).expanduser()
        return value if value.is_absolute() else (self._base / value).resolve()

    def path_list(self, key: str, default: Any = ...) -> tuple[Path, ...]:
        """A non-empty list of paths, each relative to the config file's directory."""
        paths = (Path(v).expanduser() for v in self.string_list(key, default))
        return tuple(p if p.is_absolute() else (self._base / p).resolve() for p in paths)

    def optional_path(self, key: str) -> Path | None:
        """A path, or None when the key is absent."""
        return self.path(key) if key in self._table else None

    def address(self, key: str, default: Any = ...) -> str:
        """A ``host:port`` string."""
        value = self.string(key, default)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise self._error(key, f"must be host:port, not {value!r}")
        return value

    def section(self, key: str, *, required: bool = True) -> Section:
        """A nested table."""
        value = self._raw(key, ... if required else {})
        if not isinstance(value, Mapping):
            raise self._error(key, "must be a table")
        return Section(value, self._key(key), self._base)

    def sections(self, key: str) -> list[Section]:
        """An array of tables (``[[key]]``)."""
        value = self._raw(key, ...)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._error(key, "must be an array of tables")
        return [Section(v, f"{self._key(key)}[{i}]", self._base) for i, v in enumerate(value)]

    def finish(self) -> None:
        """Refuse any key that was not read: it is a typo or belongs elsewhere."""
        unknown = sorted(set(self._table) - self._read)
        if unknown:
            raise self._error(unknown[0], "unknown key")
