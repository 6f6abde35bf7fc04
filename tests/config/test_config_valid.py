"""A valid configuration becomes typed, frozen models with every default filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import (
    ConfigInvalid,
    FileDestination,
    FileSource,
    LoggingSpec,
    MllpDestination,
    MllpSource,
    RetryPolicy,
    load_config_or_raise,
)
from tests.config.config_site import Site, one_starting_with

MINIMAL = """
channel: adt
source:
  type: mllp
  listen: 0.0.0.0:2575
destinations:
  - {name: lis, type: mllp, target: 10.0.0.2:2576}
  - {name: archive, type: file, path: archive}
"""


def test_minimal_channel_loads_with_the_documented_defaults(site: Site, tmp_path: Path) -> None:
    f = site.channel("adt.yaml", MINIMAL)
    config = load_config_or_raise(site.engine, environ={})

    assert config.store == f"sqlite:///{tmp_path}/var/huitong.db"
    assert config.channels_dir == tmp_path / "channels"
    assert config.logging == LoggingSpec(level="info", format="auto", file=None)

    spec = config.channels["adt"]
    assert spec.file == f
    assert (spec.description, spec.enabled, spec.source_system, spec.filter) == ("", True, "adt", None)
    source = spec.source
    assert isinstance(source, MllpSource)
    assert (source.encoding, source.max_frame_bytes, source.idle_timeout) == ("utf-8", 1024 * 1024, 300.0)
    assert (source.validation, source.tls) == ("basic", None)

    lis, archive = spec.destinations
    assert isinstance(lis, MllpDestination)
    assert (lis.ack_timeout, lis.on_ae, lis.on_ar, lis.tls, lis.order_by, lis.message_types) == (
        30.0,
        "retry",
        "dead",
        None,
        None,
        None,
    )
    assert lis.retry == RetryPolicy(
        max_attempts=10, backoff="exponential", initial_interval=1.0, max_interval=600.0, multiplier=2.0
    )
    assert isinstance(archive, FileDestination)
    assert archive.filename == "{channel}_{message_id}_{control_id}.hl7"
    assert archive.path == tmp_path / "channels" / "archive"


def test_file_source_defaults(site: Site, tmp_path: Path) -> None:
    site.channel("lab.yaml", "channel: lab\nsource: {type: file, path: inbox}\n")
    source = load_config_or_raise(site.engine, environ={}).channels["lab"].source
    assert isinstance(source, FileSource)
    assert (source.glob, source.poll_interval, source.encoding, source.validation) == (
        "*.hl7",
        5.0,
        "utf-8",
        "basic",
    )
    assert source.done_dir == tmp_path / "channels" / "inbox" / "done"
    assert source.error_dir == tmp_path / "channels" / "inbox" / "error"


def test_two_loads_of_the_same_files_compare_equal(site: Site) -> None:
    site.channel("adt.yaml", MINIMAL)
    first = load_config_or_raise(site.engine, environ={})
    second = load_config_or_raise(site.engine, environ={})
    assert first == second
    assert first.channels["adt"] == second.channels["adt"]


def test_a_changed_channel_compares_unequal(site: Site) -> None:
    f = site.channel("adt.yaml", MINIMAL)
    before = load_config_or_raise(site.engine, environ={})
    f.write_text(f.read_text().replace("10.0.0.2:2576", "10.0.0.3:2576"))
    after = load_config_or_raise(site.engine, environ={})
    assert before.channels["adt"] != after.channels["adt"]


def test_models_are_frozen(site: Site) -> None:
    site.channel("adt.yaml", MINIMAL)
    spec = load_config_or_raise(site.engine, environ={}).channels["adt"]
    with pytest.raises(ValueError, match="frozen"):
        spec.enabled = False  # type: ignore[misc]


def test_channel_test_files_and_other_files_are_not_channels(site: Site) -> None:
    site.channel("adt.yaml", MINIMAL)
    site.channel("adt_test.yaml", "tests: []\n")
    site.channel("README.md", "not yaml: [\n")
    site.channel(".adt.yaml.swp.yaml", "broken: [\n")
    config = load_config_or_raise(site.engine, environ={})
    assert list(config.channels) == ["adt"]


def test_yml_extension_is_a_channel_too(site: Site) -> None:
    site.channel("lab.yml", "channel: lab\nsource: {type: file, path: inbox}\n")
    assert list(load_config_or_raise(site.engine, environ={}).channels) == ["lab"]


def test_every_error_of_every_file_is_reported_in_one_call(site: Site) -> None:
    site.engine_yaml("logging: {level: loud}\n")
    a = site.channel("a.yaml", "channel: adt\nsource: {type: mllp, listen: 0.0.0.0:2575, encodng: utf-8}\n")
    b = site.channel(
        "b.yaml",
        """
        channel: orm
        source: {type: mllp, listen: 0.0.0.0:99999}
        destinations:
          - {name: lis, type: mllp, target: nowhere, ack_timeout: soon}
        """,
    )
    c = site.channel("c.yaml", "channel: lab\nsource: {type: file\n")
    lines = site.lines()
    assert [line.split(": ", 2)[0] + ": " + line.split(": ", 2)[1] for line in lines] == [
        f"{site.engine}:1:18: logging.level",
        f"{a}:2:44: source.encodng",
        f"{b}:2:30: source.listen",
        f"{b}:4:37: destinations[0].target",
        f"{b}:4:59: destinations[0].ack_timeout",
        f"{c}:3:1: (file)",
    ]


def test_load_config_or_raise_carries_every_error(site: Site) -> None:
    f = site.channel("adt.yaml", "channel: adt\n")
    with pytest.raises(ConfigInvalid) as caught:
        load_config_or_raise(site.engine, environ={})
    assert [str(e) for e in caught.value.errors] == [
        f"{f}:1:1: source: missing required key 'source' "
        "(where messages come from; type: mllp, file, fhir-push, fhir-pull, xml-http, database, mpi-events, "
            "contract-events, service-events or task-events)"
    ]
    assert str(caught.value).startswith("configuration has 1 error\n")


def test_missing_engine_yaml_is_an_error_not_an_exception(tmp_path: Path) -> None:
    from engine.config import load_config

    result = load_config(tmp_path / "nope.yaml", environ={})
    assert result.config is None
    line = one_starting_with([str(e) for e in result.errors], f"{tmp_path}/nope.yaml:1:1: (file): ")
    assert "cannot read file" in line


def test_empty_engine_yaml_means_all_defaults(site: Site) -> None:
    site.engine_yaml("# all defaults\n")
    config = load_config_or_raise(site.engine, environ={})
    assert config.channels == {}
    assert config.logging == LoggingSpec()


def test_engine_yaml_in_the_channels_directory_is_not_a_channel(site: Site) -> None:
    site.engine_yaml("store: sqlite://\nchannels: .\n")
    (site.config_dir / "adt.yaml").write_text("channel: adt\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    assert list(load_config_or_raise(site.engine, environ={}).channels) == ["adt"]
