"""Checks that need more than one file (topology) or this machine (environment).

Like ``vector validate``: schema first, then how the channels fit together, then whether the
files and directories they name are usable here. Environment checks can be skipped so CI can
validate configuration written for another machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._yaml import DataPath, Document, dotted
from .errors import ConfigError, Stage
from .models import (
    ChannelSpec,
    EngineConfig,
    EngineFile,
    FhirPushSource,
    FileDestination,
    FileSource,
    MllpDestination,
    MllpSource,
    XmlHttpSource,
)
from .values import sqlite_file


@dataclass
class LoadedChannel:
    """A channel file as read: its document (positions) and its spec when the schema passed."""

    doc: Document
    spec: ChannelSpec | None


def _err(doc: Document, path: DataPath, message: str, stage: Stage) -> ConfigError:
    pos = doc.value_pos(path)
    return ConfigError(doc.file, pos.line, pos.column, dotted(path), message, stage)


def _where(doc: Document, path: DataPath) -> str:
    pos = doc.value_pos(path)
    return f"{doc.file}:{pos.line}:{pos.column}"


# --- topology ----------------------------------------------------------------------------------


def check_alerts(doc: Document, engine: EngineFile, channels: Iterable[LoadedChannel]) -> list[ConfigError]:
    """Every channel and channel/destination an alert rule names exists."""
    if engine.alerts is None:
        return []
    specs = {ch.spec.channel: ch.spec for ch in channels if ch.spec is not None}
    errors: list[ConfigError] = []
    for i, rule in enumerate(engine.alerts.rules):
        for j, channel in enumerate(getattr(rule, "channels", None) or ()):
            if channel not in specs:
                known = ", ".join(sorted(specs)) or "none"
                message = f"rule {rule.name}: no channel {channel!r} (channels: {known})"
                errors.append(_err(doc, ("alerts", "rules", i, "channels", j), message, "topology"))
        for j, pair in enumerate(getattr(rule, "destinations", None) or ()):
            channel, _, name = pair.partition("/")
            if channel not in specs or name not in {d.name for d in specs[channel].destinations}:
                message = f"rule {rule.name}: no destination {name!r} in a channel {channel!r}"
                errors.append(_err(doc, ("alerts", "rules", i, "destinations", j), message, "topology"))
    return errors


def check_topology(channels: Iterable[LoadedChannel]) -> list[ConfigError]:
    """Names unique, listeners and polled directories not shared, no destination feeding a source."""
    channels = list(channels)
    errors: list[ConfigError] = []

    seen_names: dict[str, Document] = {}
    for ch in channels:
        data = ch.doc.data if isinstance(ch.doc.data, dict) else {}
        name = ch.spec.channel if ch.spec else data.get("channel")
        if not isinstance(name, str):
            continue
        if name in seen_names:
            first = seen_names[name]
            errors.append(
                _err(
                    ch.doc,
                    ("channel",),
                    f"channel name '{name}' is already used by {_where(first, ('channel',))}; "
                    "channel names must be unique",
                    "topology",
                )
            )
        else:
            seen_names[name] = ch.doc

        dests = data.get("destinations")
        if isinstance(dests, list):
            seen_dest: dict[str, int] = {}
            for i, dest in enumerate(dests):
                dname = dest.get("name") if isinstance(dest, dict) else None
                if not isinstance(dname, str):
                    continue
                if dname in seen_dest:
                    errors.append(
                        _err(
                            ch.doc,
                            ("destinations", i, "name"),
                            f"destination name '{dname}' is already used by destinations[{seen_dest[dname]}] "
                            f"at {_where(ch.doc, ('destinations', seen_dest[dname], 'name'))}; "
                            "names must be unique within a channel",
                            "topology",
                        )
                    )
                else:
                    seen_dest[dname] = i

    ports: dict[int, LoadedChannel] = {}
    polled: dict[Path, LoadedChannel] = {}
    for ch in channels:
        spec = ch.spec
        if spec is None:
            continue
        source = spec.source
        listen = getattr(source, "listen", None)  # mllp, fhir-push, xml-http (mode: listen)
        if listen is not None and spec.enabled:
            other = ports.get(listen.port)
            if other is not None:
                assert other.spec is not None
                errors.append(
                    _err(
                        ch.doc,
                        ("source", "listen"),
                        f"port {listen.port} is already used by the {other.spec.source.type} source of channel "
                        f"'{other.spec.channel}' ({_where(other.doc, ('source', 'listen'))}); "
                        "each enabled listening source needs its own port",
                        "topology",
                    )
                )
            else:
                ports[listen.port] = ch
        if isinstance(source, FileSource):
            other = polled.get(source.path)
            if other is not None:
                assert other.spec is not None
                errors.append(
                    _err(
                        ch.doc,
                        ("source", "path"),
                        f"directory {source.path} is already polled by channel '{other.spec.channel}' "
                        f"({_where(other.doc, ('source', 'path'))}); two file sources would take each "
                        "other's files",
                        "topology",
                    )
                )
            else:
                polled[source.path] = ch

    for ch in channels:
        if ch.spec is None:
            continue
        for i, dest in enumerate(ch.spec.destinations):
            if isinstance(dest, FileDestination) and dest.path in polled:
                owner = polled[dest.path]
                assert owner.spec is not None
                errors.append(
                    _err(
                        ch.doc,
                        ("destinations", i, "path"),
                        f"directory {dest.path} is polled by the file source of channel "
                        f"'{owner.spec.channel}' "
                        f"({_where(owner.doc, ('source', 'path'))}); messages written here would be read "
                        "back in",
                        "topology",
                    )
                )
    errors.sort(key=lambda e: (str(e.file), e.line, e.column))
    return errors


# --- environment -------------------------------------------------------------------------------


def _readable_file(path: Path) -> str | None:
    if not path.exists():
        return f"file {path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    if not os.access(path, os.R_OK):
        return f"file {path} is not readable by this user"
    return None


def _usable_dir(path: Path, *, create: bool = True) -> str | None:
    """None when ``path`` is a writable directory, or could be created as one."""
    if path.exists():
        if not path.is_dir():
            return f"{path} exists but is not a directory"
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            return f"directory {path} is not readable and writable by this user"
        return None
    if not create:
        return f"directory {path} does not exist"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot create directory {path}: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create directory {path}: {ancestor} is not writable by this user"
    return None


def check_engine_environment(doc: Document, engine: EngineFile) -> list[ConfigError]:
    """The channels directory exists; the database and log file locations are usable."""
    errors: list[ConfigError] = []

    def add(path: DataPath, problem: str | None, hint: str = "") -> None:
        if problem:
            errors.append(_err(doc, path, problem + hint, "environment"))

    if not engine.channels.is_dir():
        what = "is not a directory" if engine.channels.exists() else "does not exist"
        add(
            ("channels",),
            f"channels directory {engine.channels} {what}",
            "; create it, or point channels: at the directory that holds the channel files",
        )
    db = sqlite_file(engine.store)
    if db is not None:
        add(("store",), _usable_dir(db.parent), " (the SQLite database directory)")
    if engine.logging.file is not None:
        add(("logging", "file"), _usable_dir(engine.logging.file.parent), " (the log file directory)")
    return errors


def check_channel_environment(ch: LoadedChannel) -> list[ConfigError]:
    """TLS files readable, polled and written directories usable. Disabled channels are skipped."""
    spec = ch.spec
    if spec is None or not spec.enabled:
        return []
    errors: list[ConfigError] = []

    def add(path: DataPath, problem: str | None) -> None:
        if problem:
            errors.append(_err(ch.doc, path, problem, "environment"))

    def tls_files(prefix: DataPath, tls: Any) -> None:
        for key in ("cert_file", "key_file", "ca_file"):
            value = getattr(tls, key)
            if value is not None:
                add((*prefix, key), _readable_file(value))

    source = spec.source
    if isinstance(source, MllpSource | FhirPushSource | XmlHttpSource) and source.tls is not None:
        tls_files(("source", "tls"), source.tls)
    if isinstance(source, FileSource):
        path_problem = _usable_dir(source.path)
        add(("source", "path"), path_problem)
        for key in ("done_dir", "error_dir"):
            given = ("source", key) in ch.doc.values
            if given or not path_problem:  # a defaulted <path>/done fails whenever <path> does
                add(("source", key) if given else ("source", "path"), _usable_dir(getattr(source, key)))
    for i, dest in enumerate(spec.destinations):
        if isinstance(dest, MllpDestination) and dest.tls is not None:
            tls_files(("destinations", i, "tls"), dest.tls)
        if isinstance(dest, FileDestination):
            add(("destinations", i, "path"), _usable_dir(dest.path))
    return errors


def open_listeners(config: EngineConfig) -> list[str]:
    """Listeners anyone who reaches them may use: the console with ``auth: none``, an enabled fhir-push or
    xml-http listen source without a token. Allowed (the config says so), but ``huitong validate`` warns."""
    found = []
    if config.console is not None and config.console.auth == "none":
        found.append(f"console on {config.console.listen} has auth: none: anyone who reaches it acts as an admin")
    for name, spec in config.channels.items():
        source = spec.source
        if not spec.enabled:
            continue
        if isinstance(source, FhirPushSource) and source.auth_token is None:
            found.append(
                f"channel {name} ({spec.file}): fhir-push on {source.listen} has no auth_token: anyone who "
                "reaches it can post messages"
            )
        if isinstance(source, XmlHttpSource) and source.mode == "listen" and source.token is None:
            found.append(
                f"channel {name} ({spec.file}): xml-http on {source.listen} has no token: anyone who "
                "reaches it can post messages"
            )
    return found
