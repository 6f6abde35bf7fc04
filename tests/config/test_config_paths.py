"""Relative paths are relative to the file that wrote them, never to the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import FileDestination, FileSource, MllpSource
from engine.config.values import resolve_store_url
from tests.config.config_site import Site


def test_channel_paths_are_resolved_against_the_channel_file_directory(
    site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path / "config")  # the working directory must not matter
    site.channel(
        "lab.yaml",
        """
        channel: lab
        source: {type: file, path: ../var/inbox/lab, error_dir: /srv/errors}
        destinations:
          - {name: out, type: file, path: ./out/../results}
        """,
    )
    config = site.load().config
    assert config is not None
    source = config.channels["lab"].source
    assert isinstance(source, FileSource)
    assert source.path == tmp_path / "var" / "inbox" / "lab"
    assert source.done_dir == tmp_path / "var" / "inbox" / "lab" / "done"
    assert source.error_dir == Path("/srv/errors")
    dest = config.channels["lab"].destinations[0]
    assert isinstance(dest, FileDestination)
    assert dest.path == tmp_path / "channels" / "results"


def test_tls_files_are_resolved_against_the_channel_file_directory(site: Site, tmp_path: Path) -> None:
    site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mllp
          listen: 0.0.0.0:2575
          tls: {cert_file: tls/server.crt, key_file: tls/server.key}
        """,
    )
    config = site.load(check_environment=False).config
    assert config is not None
    source = config.channels["adt"].source
    assert isinstance(source, MllpSource) and source.tls is not None
    assert source.tls.cert_file == tmp_path / "channels" / "tls" / "server.crt"


def test_engine_paths_are_resolved_against_the_engine_yaml_directory(site: Site, tmp_path: Path) -> None:
    site.engine_yaml("channels: ../channels\nlogging: {file: ../var/log/huitong.log}\n")
    config = site.load().config
    assert config is not None
    assert config.path == tmp_path / "config" / "engine.yaml"
    assert config.channels_dir == tmp_path / "channels"
    assert config.store == f"sqlite:///{tmp_path}/var/huitong.db"
    assert config.logging.file == tmp_path / "var" / "log" / "huitong.log"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///../var/h.db", "sqlite:////site/var/h.db"),
        ("sqlite+pysqlite:///data/h.db?timeout=5", "sqlite+pysqlite:////site/config/data/h.db?timeout=5"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite:////abs/h.db", "sqlite:////abs/h.db"),
        ("postgresql+psycopg://u:p@db/huitong", "postgresql+psycopg://u:p@db/huitong"),
    ],
)
def test_only_relative_sqlite_paths_are_rewritten(url: str, expected: str) -> None:
    assert resolve_store_url(url, Path("/site/config")) == expected
