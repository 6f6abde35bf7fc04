"""Value types of the configuration: durations, host:port, names, message types, paths.

Each parser raises ``ValueError`` with a message meant for an integration engineer ("expected
host:port, e.g. 0.0.0.0:2575, got 'localhost'"); the loader shows it next to file:line:column.
"""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
import string
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

__all__ = [
    "FILENAME_PLACEHOLDERS",
    "Duration",
    "Encoding",
    "FilenameTemplate",
    "HostPort",
    "HostPortValue",
    "MessageTypePattern",
    "Name",
    "ResolvedPath",
    "StoreUrl",
    "describe",
    "parse_duration",
    "parse_host_port",
    "resolve_store_url",
    "sqlite_file",
]


def describe(value: Any) -> str:
    """How a value is shown after "got": short, and in YAML terms rather than Python's."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    return str(value)


# --- durations ---------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_HELP = "expected a duration such as 500ms, 5s, 10m, 1h, 1d or a number of seconds"


def parse_duration(value: Any) -> float:
    """Turn ``"500ms"``, ``"5s"``, ``"10m"``, ``"1h"``, ``"1d"`` or a number into seconds."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{_DURATION_HELP}, got {describe(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _DURATION.fullmatch(text)
        if match:
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"{_DURATION_HELP}, got {describe(value)}") from None
    else:
        raise ValueError(f"{_DURATION_HELP}, got {describe(value)}")
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        raise ValueError(f"{_DURATION_HELP} (finite, not negative), got {describe(value)}")
    return seconds


#: Seconds, written in YAML as ``500ms``, ``5s``, ``10m``, ``1h``, ``1d`` or a plain number.
Duration = Annotated[float, BeforeValidator(parse_duration)]


# --- host:port ---------------------------------------------------------------------------------

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?")


class HostPort(BaseModel):
    """A TCP endpoint. ``str()`` gives it back in the form it is written in YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(value: Any) -> HostPort:
    """Parse ``host:port`` (IPv6 in brackets: ``[::1]:2575``); the port must be 1–65535."""
    if isinstance(value, HostPort):
        return value
    example = "expected host:port, e.g. 0.0.0.0:2575 (IPv6 in brackets: [::1]:2575)"
    if not isinstance(value, str):
        raise ValueError(f"{example}, got {describe(value)}")
    text = value.strip()
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1 :].startswith(":"):
            raise ValueError(f"{example}, got {describe(value)}")
        host, port_text = text[1:close], text[close + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"'{host}' in brackets is not an IPv6 address; {example}") from None
    else:
        if text.count(":") > 1:
            raise ValueError(f"an IPv6 address must be written in brackets, e.g. [::1]:2575, got {describe(value)}")
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"{example}, got {describe(value)}")
        if not host:
            raise ValueError(
                f"the host is missing; write 0.0.0.0:{port_text} for every interface, got {describe(value)}"
            )
        if not _HOSTNAME.fullmatch(host):
            raise ValueError(f"'{host}' is not a host name or IP address; {example}")
    if not port_text.isdigit():
        raise ValueError(f"the port must be a number from 1 to 65535, got {describe(port_text)} in {describe(value)}")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"the port must be from 1 to 65535, got {port} in {describe(value)}")
    return HostPort(host=host, port=port)


#: ``host:port`` in YAML, a :class:`HostPort` in the model.
HostPortValue = Annotated[HostPort, BeforeValidator(parse_host_port)]


# --- names and message types -------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")


def _check_name(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            "expected a name of lower-case letters, digits, '_', '.' and '-', starting with a letter "
            f"or digit, at most 63 characters (e.g. his-adt), got {describe(value)}"
        )
    return value


#: A channel or destination name: ``^[a-z0-9][a-z0-9_.-]{0,62}$``.
Name = Annotated[str, BeforeValidator(_check_name)]

_MESSAGE_TYPE = re.compile(r"[A-Z0-9]{3}(\^([A-Z0-9]{2,3}|\*))?")


def _check_message_type(value: Any) -> str:
    if not isinstance(value, str) or not _MESSAGE_TYPE.fullmatch(value):
        hint = ""
        if isinstance(value, str) and _MESSAGE_TYPE.fullmatch(value.upper()):
            hint = f" (upper case: {value.upper()})"
        raise ValueError(
            f"expected an HL7 message type such as ADT^A01, ADT^* (every ADT event) or ADT, got {describe(value)}{hint}"
        )
    return value


#: ``ADT^A01``, ``ADT^*`` or ``ADT`` (which, like ``ADT^*``, matches every ADT trigger event).
MessageTypePattern = Annotated[str, BeforeValidator(_check_message_type)]


# --- encodings, paths, file names --------------------------------------------------------------


def _check_encoding(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a Python codec name such as utf-8 or gb18030, got {describe(value)}")
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"unknown text encoding {describe(value)}; expected a Python codec name such as utf-8, gb18030 or latin-1"
        ) from None
    return value


#: A Python codec name, checked with :func:`codecs.lookup`.
Encoding = Annotated[str, BeforeValidator(_check_encoding)]


def _check_path_text(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected a path, got an empty string")
    if isinstance(value, str | os.PathLike):
        return value
    raise ValueError(f"expected a path, got {describe(value)}")


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the YAML file that wrote them, never to the working directory."""
    base = (info.context or {}).get("base_dir")
    path = value.expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return Path(os.path.abspath(path))


#: A path; relative ones are resolved against the directory of the file that contains them.
ResolvedPath = Annotated[Path, BeforeValidator(_check_path_text), AfterValidator(_resolve)]

#: The placeholders a file destination's ``filename`` may use.
FILENAME_PLACEHOLDERS = ("channel", "destination", "message_id", "control_id", "message_type")


def _check_filename(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a file name template such as {{channel}}_{{message_id}}.hl7, got {describe(value)}")
    allowed = ", ".join("{" + p + "}" for p in FILENAME_PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(
            f"cannot read the template {describe(value)} ({exc}); write {{{{ or }}}} for a literal brace"
        ) from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in FILENAME_PLACEHOLDERS:
            shown = "{" + name + "}" if name else "{}"
            raise ValueError(f"unknown placeholder {shown} in the file name; expected one of: {allowed}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion; write just {{{name}}}")
    if "/" in value or "\\" in value:
        raise ValueError(f"the file name must not contain '/' or '\\' (put directories in path), got {describe(value)}")
    return value


#: A file name with ``{channel}``, ``{destination}``, ``{message_id}``, ``{control_id}``, ``{message_type}``.
FilenameTemplate = Annotated[str, BeforeValidator(_check_filename)]


# --- store URL ---------------------------------------------------------------------------------

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9_]*(?:\+[A-Za-z0-9_]+)?)://(?P<rest>.*)", re.DOTALL)


def resolve_store_url(value: Any, base_dir: Path | None) -> str:
    """Check a SQLAlchemy URL and make a relative SQLite path absolute against ``base_dir``.

    ``sqlite://`` and ``:memory:`` are in-memory databases; absolute paths and other dialects
    are returned unchanged. The URL is never echoed in messages: it may hold a password.
    """
    example = "e.g. sqlite:///../var/huitong.db or postgresql+psycopg://user@host/huitong"
    if not isinstance(value, str):
        raise ValueError(f"expected a database URL, {example}, got {describe(value)}")
    match = _URL.fullmatch(value.strip())
    if not match:
        raise ValueError(f"expected a database URL of the form dialect://..., {example}")
    scheme, rest = match.group("scheme"), match.group("rest")
    if scheme.partition("+")[0].lower() != "sqlite" or not rest.startswith("/"):
        return value.strip()
    db, sep, query = rest[1:].partition("?")
    if db in ("", ":memory:") or db.startswith("/") or db.startswith("file:") or base_dir is None:
        return value.strip()
    absolute = os.path.abspath(Path(base_dir) / Path(db).expanduser())
    return f"{scheme}:///{absolute}{sep}{query}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a resolved SQLite URL; None for in-memory or other databases."""
    match = _URL.fullmatch(url)
    if not match or match.group("scheme").partition("+")[0].lower() != "sqlite":
        return None
    rest = match.group("rest")
    if not rest.startswith("/"):
        return None
    db = rest[1:].partition("?")[0]
    if db in ("", ":memory:") or db.startswith("file:"):
        return None
    return Path(db)


def _store(value: Any, info: ValidationInfo) -> str:
    return resolve_store_url(value, (info.context or {}).get("base_dir"))


#: A SQLAlchemy URL; a relative SQLite path is made absolute against the engine.yaml directory.
StoreUrl = Annotated[str, BeforeValidator(_store)]
