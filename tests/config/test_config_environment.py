"""Environment stage: files and directories on this machine; skippable for CI."""

from __future__ import annotations

from pathlib import Path

from tests.config.config_site import Site, one_starting_with

TLS_CHANNEL = """
channel: adt
source:
  type: mllp
  listen: 0.0.0.0:2575
  tls:
    cert_file: tls/server.crt
    key_file: tls/server.key
"""


def test_missing_tls_file_is_reported_at_its_value(site: Site, tmp_path: Path) -> None:
    (site.channels_dir / "tls").mkdir()
    (site.channels_dir / "tls" / "server.key").write_text("key")
    f = site.channel("adt.yaml", TLS_CHANNEL)
    result = site.load()
    assert result.config is None
    assert [str(e) for e in result.errors] == [
        f"{f}:6:16: source.tls.cert_file: file {tmp_path}/channels/tls/server.crt does not exist"
    ]
    assert result.errors[0].stage == "environment"


def test_a_missing_tls_key_of_an_https_source_is_reported_at_its_value(site: Site, tmp_path: Path) -> None:
    (site.channels_dir / "tls").mkdir()
    (site.channels_dir / "tls" / "server.crt").write_text("cert")
    f = site.channel(
        "emr.yaml",
        "channel: emr\nsource:\n  type: fhir-push\n  listen: 0.0.0.0:8080\n  auth_token: t\n"
        "  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
    )
    result = site.load()
    assert [str(e) for e in result.errors] == [
        f"{f}:6:46: source.tls.key_file: file {tmp_path}/channels/tls/server.key does not exist"
    ]


def test_environment_checks_can_be_skipped(site: Site) -> None:
    site.channel("adt.yaml", TLS_CHANNEL)
    result = site.load(check_environment=False)
    assert result.errors == []
    assert result.config is not None


def test_file_source_path_that_is_a_file_is_an_error(site: Site, tmp_path: Path) -> None:
    (tmp_path / "inbox").write_text("not a directory")
    f = site.channel("lab.yaml", "channel: lab\nsource:\n  type: file\n  path: ../inbox\n")
    lines = site.lines()
    assert one_starting_with(lines, f"{f}:4:9: source.path: ").endswith(
        f"{tmp_path}/inbox exists but is not a directory"
    )


def test_missing_directories_that_can_be_created_are_fine(site: Site, tmp_path: Path) -> None:
    site.channel(
        "lab.yaml",
        """
        channel: lab
        source: {type: file, path: ../var/inbox/lab}
        destinations: [{name: out, type: file, path: ../var/out/lab}]
        """,
    )
    assert site.lines() == []
    assert not (tmp_path / "var").exists(), "validation must not create anything"


def test_destination_directory_under_a_file_cannot_be_created(site: Site, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source: {type: mllp, listen: 0.0.0.0:2575}
        destinations: [{name: out, type: file, path: ../blocker/out}]
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:3:46: destinations[0].path: ")
    assert line.endswith(f"cannot create directory {tmp_path}/blocker/out: {tmp_path}/blocker is not a directory")


def test_missing_channels_directory_is_reported_in_engine_yaml(site: Site, tmp_path: Path) -> None:
    site.engine_yaml("store: sqlite://\nchannels: ../chanels\n")
    line = one_starting_with(site.lines(), f"{site.engine}:2:11: channels: ")
    assert f"channels directory {tmp_path}/chanels does not exist" in line
    assert site.load(check_environment=False).errors == []


def test_disabled_channel_is_not_checked_against_this_machine(site: Site) -> None:
    site.channel("adt.yaml", TLS_CHANNEL.replace("channel: adt", "channel: adt\nenabled: false"))
    assert site.lines() == []
