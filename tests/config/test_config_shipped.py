"""The configuration in the repository validates, and the reference documents every key."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine.config import (
    ConsoleSpec,
    ContractEventsSource,
    DestinationTLS,
    FhirApiSpec,
    FhirDestination,
    FhirPullSource,
    FhirPushSource,
    FileDestination,
    FileSource,
    HttpDestination,
    LoggingSpec,
    MessageFilter,
    MllpDestination,
    MllpSource,
    MpiEventsSource,
    ObservationProfile,
    ObservationRule,
    RecordSpec,
    RetryPolicy,
    ServiceEventsSource,
    SourceTLS,
    TaskEventsSource,
    XmlHttpSource,
    load_config,
)
from engine.config.loader import load_profile
from engine.config.models import ChannelSpec, DatabaseSource, EngineFile
from tests.support.daemon import SHIPPED_ENV

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configuration_validates() -> None:
    result = load_config(REPO / "config" / "engine.yaml", environ=SHIPPED_ENV)
    assert [str(e) for e in result.errors] == []
    assert result.config is not None
    assert sorted(result.config.channels) == [
        "care-task-reach",
        "care-task-sms",
        "emr-contract-push",
        "emr-patients",
        "his-adt",
        "his-contract-push",
        "his-views",
        "lab-files",
        "phs-contract-files",
        "phs-contract-posts",
        "phs-contracts",
        "phs-documents",
        "phs-service-return",
    ]
    his = result.config.channels["his-adt"]
    assert isinstance(his.source, MllpSource)
    assert (str(his.source.listen), his.source.encoding) == ("127.0.0.1:2575", "gb18030")
    lis = his.destination("lis-forward")
    assert isinstance(lis, MllpDestination)
    assert (str(lis.target), lis.order_by) == ("127.0.0.1:2576", "person")


def test_shipped_channels_follow_the_environment(tmp_path: Path) -> None:
    environ = {**SHIPPED_ENV, "HIS_ADT_LISTEN": "0.0.0.0:12575", "LIS_TARGET": "lis.example:12576"}
    result = load_config(REPO / "config" / "engine.yaml", environ=environ, check_environment=False)
    assert result.config is not None
    his = result.config.channels["his-adt"]
    assert str(his.source.listen) == "0.0.0.0:12575"  # type: ignore[union-attr]
    assert str(his.destination("lis-forward").target) == "lis.example:12576"  # type: ignore[union-attr]


def test_reference_documents_every_key_of_every_model() -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    models = [
        EngineFile,
        LoggingSpec,
        ChannelSpec,
        MllpSource,
        SourceTLS,
        FileSource,
        MessageFilter,
        MllpDestination,
        DestinationTLS,
        FileDestination,
        FhirPushSource,
        FhirPullSource,
        XmlHttpSource,
        DatabaseSource,
        MpiEventsSource,
        ContractEventsSource,
        ServiceEventsSource,
        TaskEventsSource,
        FhirDestination,
        HttpDestination,
        RetryPolicy,
        ObservationProfile,
        ObservationRule,
        RecordSpec,
        FhirApiSpec,
        ConsoleSpec,
    ]
    missing = {f"{m.__name__}.{name}" for m in models for name in m.model_fields if name not in documented}
    assert missing == set()


def test_the_shipped_observation_profiles_load() -> None:
    for path in sorted((REPO / "mappings" / "profiles").glob("*.yaml")):
        profile, errors = load_profile(path, {})
        assert errors == [] and profile is not None and profile.observations, path


@pytest.mark.parametrize(
    ("file", "broken", "expected"),
    [
        ("care/labels.yaml", "labels:\n  - code: x\n    name: [unclosed\n", "labels.yaml:4:1: (file): YAML syntax"),
        ("care/tasks.yaml", "tasks: 5\n", "tasks.yaml:1:8: tasks: "),
        ("indicators/family-doctor.yaml", "indicators: []\n", "family-doctor.yaml:1:13: indicators: "),
        ("indicators/inputs/record.yaml", "labels: {no-such-label: x}\n", "record.yaml:1:1: (file): labels: no care"),
    ],
)
def test_a_broken_rule_file_beside_the_mappings_is_a_config_error_naming_file_line_and_column(
    tmp_path: Path, file: str, broken: str, expected: str
) -> None:
    for name in ("config", "channels", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "mappings" / file).write_text(broken, encoding="utf-8")
    lines = [str(e) for e in load_config(tmp_path / "config" / "engine.yaml", environ={}).errors]
    assert any(expected in line for line in lines), lines


def test_every_shipped_channel_that_takes_posts_needs_a_token_from_the_environment() -> None:
    unset = load_config(REPO / "config" / "engine.yaml", environ={}, check_environment=False)
    assert any("PHS_CONTRACTS_POST_TOKEN is not set" in str(e) for e in unset.errors), unset.errors
    loaded = load_config(REPO / "config" / "engine.yaml", environ=SHIPPED_ENV, check_environment=False)
    assert loaded.config is not None
    listening = [
        spec
        for spec in loaded.config.channels.values()
        if isinstance(spec.source, FhirPushSource)
        or (isinstance(spec.source, XmlHttpSource) and spec.source.mode == "listen")
    ]
    assert listening
    for spec in listening:
        source = spec.source
        token = source.auth_token if isinstance(source, FhirPushSource) else source.token  # type: ignore[union-attr]
        assert token == SHIPPED_ENV["PHS_CONTRACTS_POST_TOKEN"], spec.channel
