"""Load engine.yaml and every channel file, and check them whole before anything starts.

``load_config`` never raises for a bad configuration: it returns every error of every file, so
an engineer fixes them all in one pass instead of one per restart.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.domain.contract import ContractReader
from engine.domain.contract.services import ServiceRules
from engine.domain.mapping import MappingSet
from engine.domain.orgs import OrgTree

from ._messages import translate
from ._yaml import Document, Pos, read_document
from .bundle import Bundle, RuleSet
from .checks import (
    LoadedChannel,
    check_alerts,
    check_channel_environment,
    check_engine_environment,
    check_topology,
)
from .contract import load_contract_reader, load_service_rules
from .errors import WHOLE_FILE, ConfigError, ConfigInvalid
from .mappings import load_mappings
from .models import (
    ChannelSpec,
    ContractDestination,
    ContractEventsSource,
    EngineConfig,
    EngineFile,
    ObservationProfile,
    ServiceEventsSource,
)
from .mpi import default_settings, load_matcher
from .orgs import load_organisations, registry_file
from .rules import load_rules
from .values import describe


@dataclass
class LoadResult:
    """``config`` is set only when ``errors`` is empty."""

    config: EngineConfig | None
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _sorted(errors: list[ConfigError]) -> list[ConfigError]:
    return sorted(errors, key=lambda e: (e.line, e.column))


def channel_files(directory: Path) -> list[Path]:
    """The channel files of a directory: ``*.yaml``/``*.yml``, not ``*_test.yaml``, not hidden."""
    found = []
    for entry in directory.iterdir():
        if entry.suffix not in (".yaml", ".yml") or entry.name.startswith("."):
            continue
        if entry.stem.endswith("_test") or not entry.is_file():
            continue
        found.append(entry)
    return sorted(found)


def load_channel(file: Path, environ: Mapping[str, str]) -> LoadedChannel:
    """Read and schema-check one channel file; its errors are in ``.doc.errors``."""
    doc = read_document(file, environ)
    spec: ChannelSpec | None = None
    if doc.parsed:
        if doc.data is None:
            message = "the file is empty; a channel file needs at least channel: and source:"
            doc.error(Pos(1, 1), WHOLE_FILE, message)
        elif not isinstance(doc.data, dict):
            doc.error(
                doc.value_pos(()),
                WHOLE_FILE,
                f"expected a mapping of channel settings (channel:, source:, ...), got {describe(doc.data)}",
            )
        else:
            try:
                spec = ChannelSpec.model_validate(doc.data, context={"base_dir": file.parent, "file": file})
            except ValidationError as exc:
                translate(doc, exc, ChannelSpec)
    doc.errors[:] = _sorted(doc.errors)
    return LoadedChannel(doc=doc, spec=spec)


def load_profile(file: Path, environ: Mapping[str, str]) -> tuple[ObservationProfile | None, list[ConfigError]]:
    """Read and schema-check one observation profile file."""
    doc = read_document(file, environ)
    profile: ObservationProfile | None = None
    if doc.parsed:
        if not isinstance(doc.data, dict):
            doc.error(doc.value_pos(()), WHOLE_FILE, "expected a mapping (profile:, observations:)")
        else:
            try:
                profile = ObservationProfile.model_validate(doc.data, context={"base_dir": file.parent})
            except ValidationError as exc:
                translate(doc, exc, ObservationProfile)
    return profile, _sorted(doc.errors)


def _profiles(
    channels: list[LoadedChannel], environ: Mapping[str, str]
) -> tuple[dict[Path, ObservationProfile], list[ConfigError]]:
    """Every profile the channels name, loaded once each; a missing file is the naming channel's error."""
    loaded: dict[Path, ObservationProfile] = {}
    errors: list[ConfigError] = []
    for ch in channels:
        path = getattr(ch.spec.source, "profile", None) if ch.spec is not None else None
        if path is None or path in loaded:
            continue
        if not path.is_file():
            pos = ch.doc.value_pos(("source", "profile"))
            errors.append(
                ConfigError(ch.doc.file, pos.line, pos.column, "source.profile", f"no profile file at {path}")
            )
            continue
        profile, problems = load_profile(path, environ)
        errors.extend(problems)
        if profile is not None:
            loaded[path] = profile
    return loaded, errors


def _unknown_mappings(
    channels: list[LoadedChannel], mapping_set: MappingSet, mapping_errors: list[ConfigError], directory: Path
) -> list[ConfigError]:
    """A channel naming a mapping that does not exist (one that exists but failed has its own error)."""
    broken = {e.file for e in mapping_errors}
    errors = []
    for ch in channels:
        if ch.spec is None or ch.spec.map is None:
            continue
        for i, name in enumerate(ch.spec.map):
            if name in mapping_set.mappings:
                continue
            if any(f.with_suffix("").as_posix().endswith(name) for f in broken):
                continue
            pos = ch.doc.value_pos(("map", i) if isinstance(ch.doc.data.get("map"), list) else ("map",))
            known = ", ".join(sorted(mapping_set.mappings)) or "none"
            message = f"no mapping {name!r} in {directory} (known: {known})"
            if not directory.is_dir():
                message = f"no mapping {name!r}: no mappings directory {directory} (mappings: in engine.yaml)"
            errors.append(ConfigError(ch.doc.file, pos.line, pos.column, "map", message))
    return errors


def _contract_reader(
    channels: list[LoadedChannel], mappings: Path
) -> tuple[ContractReader | None, list[ConfigError]]:
    """The contract XSD and vendor status tables, when a channel has a contract destination."""
    reader: ContractReader | None = None
    errors: list[ConfigError] = []
    for ch in channels:
        for i, dest in enumerate(ch.spec.destinations if ch.spec else ()):
            if not isinstance(dest, ContractDestination):
                continue
            if reader is None:
                try:
                    reader = load_contract_reader(mappings)
                except (OSError, ValueError) as exc:
                    pos = ch.doc.value_pos(("destinations", i, "type"))
                    message = f"cannot load the contract schema and code tables from {mappings}: {exc}"
                    return None, [ConfigError(ch.doc.file, pos.line, pos.column, f"destinations[{i}].type", message)]
            if dest.vendor is not None and dest.vendor not in reader.codes.vendors():
                pos = ch.doc.value_pos(("destinations", i, "vendor"))
                known = ", ".join(reader.codes.vendors())
                message = f"no contract status table for vendor {dest.vendor!r} (known: {known})"
                errors.append(ConfigError(ch.doc.file, pos.line, pos.column, f"destinations[{i}].vendor", message))
    return reader, errors


def _service_rules(
    channels: list[LoadedChannel], mappings: Path
) -> tuple[ServiceRules | None, list[ConfigError]]:
    """The rules matching services to contract items, when a channel passes contract or service changes on."""
    for ch in channels:
        if ch.spec is not None and isinstance(ch.spec.source, (ContractEventsSource, ServiceEventsSource)):
            try:
                return load_service_rules(mappings), []
            except (OSError, ValueError) as exc:
                pos = ch.doc.value_pos(("source", "type"))
                message = f"cannot load the contract service rules from {mappings}: {exc}"
                return None, [ConfigError(ch.doc.file, pos.line, pos.column, "source.type", message)]
    return None, []


def _routing_orgs(
    channels: list[LoadedChannel], engine_path: Path, env: Mapping[str, str]
) -> tuple[OrgTree | None, list[ConfigError]]:
    """The organisation registry, when a channel routes by institution (``organisations:``); codes checked."""
    routed = [ch for ch in channels if ch.spec is not None and getattr(ch.spec.source, "organisations", None)]
    if not routed:
        return None, []
    registry = registry_file(engine_path)
    orgs, errors = load_organisations(registry, env)
    if orgs is None:
        return None, errors
    for ch in routed:
        assert ch.spec is not None
        codes: tuple[str, ...] = getattr(ch.spec.source, "organisations", ())
        for i, code in enumerate(codes):
            if code not in orgs:
                pos = ch.doc.value_pos(("source", "organisations", i))
                message = f"no institution {code!r} in {registry}"
                errors.append(ConfigError(ch.doc.file, pos.line, pos.column, f"source.organisations[{i}]", message))
    return orgs, errors


def _engine_file(doc: Document) -> EngineFile | None:
    data: Any = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        doc.error(
            doc.value_pos(()),
            WHOLE_FILE,
            f"expected a mapping of engine settings (store:, channels:, logging:), got {describe(data)}",
        )
        return None
    try:
        return EngineFile.model_validate(data, context={"base_dir": doc.file.parent})
    except ValidationError as exc:
        translate(doc, exc, EngineFile)
        return None


def _channels_dir(doc: Document, engine: EngineFile | None) -> Path | None:
    """Where channels live, even when another engine.yaml key is wrong, so their errors show too."""
    if engine is not None:
        return engine.channels
    if any(e.field == "channels" or e.field == WHOLE_FILE for e in doc.errors):
        return None
    data = doc.data if isinstance(doc.data, dict) else {}
    value = data.get("channels", "../channels")
    if not isinstance(value, str) or not value.strip():
        return None
    return Path(os.path.abspath(doc.file.parent / Path(value).expanduser()))


def load_engine_settings(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> tuple[EngineFile | None, list[ConfigError]]:
    """engine.yaml alone: what read-only commands need (the store), even while a channel file is broken."""
    doc = read_document(Path(os.path.abspath(os.fspath(path))), os.environ if environ is None else environ)
    engine = _engine_file(doc) if doc.parsed else None
    return engine, _sorted(doc.errors)


def load_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    check_environment: bool = True,
) -> LoadResult:
    """Load ``engine.yaml`` and its channels; return the config or every error found.

    ``environ`` replaces ``os.environ`` for ``${VAR}`` substitution (tests, ``huitong validate
    --env``). ``check_environment=False`` skips the checks that look at this machine's files.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    engine_path = Path(os.path.abspath(os.fspath(path)))
    engine_doc = read_document(engine_path, env)
    engine = _engine_file(engine_doc) if engine_doc.parsed else None
    engine_doc.errors[:] = _sorted(engine_doc.errors)
    schema_errors = list(engine_doc.errors)

    channels: list[LoadedChannel] = []
    channels_dir = _channels_dir(engine_doc, engine) if engine_doc.parsed else None
    if channels_dir is not None and channels_dir.is_dir():
        try:
            files = channel_files(channels_dir)
        except OSError as exc:
            pos = engine_doc.value_pos(("channels",))
            message = f"cannot list {channels_dir}: {exc}"
            schema_errors.append(ConfigError(engine_path, pos.line, pos.column, "channels", message))
            files = []
        for file in files:
            if file == engine_path:
                continue  # "channels: ." next to engine.yaml must not read engine.yaml as a channel
            loaded = load_channel(file, env)
            channels.append(loaded)
            schema_errors.extend(loaded.doc.errors)

    profiles, profile_errors = _profiles(channels, env)
    schema_errors.extend(profile_errors)
    mapping_set = None
    matcher = None
    contract_reader = None
    orgs = None
    service_rules = None
    rules = RuleSet()
    if engine is not None:
        mpi_file = engine.mpi or default_settings(engine_path)
        matcher, mpi_errors = load_matcher(mpi_file, env)
        schema_errors.extend(mpi_errors)
        mapping_set, mapping_errors = load_mappings(engine.mappings)
        schema_errors.extend(mapping_errors)
        schema_errors.extend(_unknown_mappings(channels, mapping_set, mapping_errors, engine.mappings))
        contract_reader, contract_errors = _contract_reader(channels, engine.mappings)
        schema_errors.extend(contract_errors)
        orgs, org_errors = _routing_orgs(channels, engine_path, env)
        schema_errors.extend(org_errors)
        service_rules, service_errors = _service_rules(channels, engine.mappings)
        schema_errors.extend(service_errors)
        rules, rule_errors = load_rules(engine.mappings)
        schema_errors.extend(rule_errors)
    topology_errors = check_topology(channels)
    if engine is not None:
        topology_errors.extend(check_alerts(engine_doc, engine, channels))

    environment_errors: list[ConfigError] = []
    if check_environment:
        if engine is not None:
            environment_errors.extend(check_engine_environment(engine_doc, engine))
        for ch in channels:
            environment_errors.extend(check_channel_environment(ch))

    errors = schema_errors + topology_errors + environment_errors
    if errors or engine is None or mapping_set is None or matcher is None:
        return LoadResult(config=None, errors=errors)
    specs = {ch.spec.channel: ch.spec for ch in channels if ch.spec is not None}
    config = EngineConfig(
        path=engine_path,
        store=engine.store,
        channels_dir=engine.channels,
        mappings_dir=engine.mappings,
        mpi_settings=mpi_file,
        node=engine.node or socket.gethostname(),
        logging=engine.logging,
        record=engine.record,
        fhir_api=engine.fhir_api,
        console=engine.console,
        alerts=engine.alerts,
        channels=specs,
        profiles=profiles,
        bundle=Bundle(mapping_set, matcher, rules, orgs, contract_reader, service_rules),
    )
    return LoadResult(config=config, errors=[])


def load_config_or_raise(path: str | os.PathLike[str], **kwargs: Any) -> EngineConfig:
    """Like :func:`load_config`, but raise :class:`ConfigInvalid` carrying every error."""
    result = load_config(path, **kwargs)
    if result.config is None:
        raise ConfigInvalid(result.errors)
    return result.config
