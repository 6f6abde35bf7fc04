"""${VAR} and ${VAR:-default} in both file kinds; $$ for a literal dollar sign."""

from __future__ import annotations

import pytest

from engine.config import FileDestination, MllpSource
from engine.config.envsubst import SubstitutionError, substitute
from tests.config.config_site import Site, one_starting_with


def test_unset_variable_without_default_is_an_error_at_that_scalar(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mllp
          listen: ${HIS_ADT_LISTEN}
        """,
    )
    lines = site.lines(environ={})
    line = one_starting_with(lines, f"{f}:4:11: source.listen: ")
    assert line.endswith(
        "environment variable HIS_ADT_LISTEN is not set; set it, or give a default with ${HIS_ADT_LISTEN:-default}"
    )
    assert len(lines) == 1, "the unreadable value must not also be reported as a bad host:port"


def test_default_is_used_when_the_variable_is_unset_or_empty(site: Site) -> None:
    site.channel("adt.yaml", "channel: adt\nsource: {type: mllp, listen: '${LISTEN:-0.0.0.0:2575}'}\n")
    for environ in ({}, {"LISTEN": ""}):
        config = site.load(environ=environ).config
        assert config is not None
        assert str(config.channels["adt"].source.listen) == "0.0.0.0:2575"  # type: ignore[union-attr]


def test_set_variable_wins_over_the_default(site: Site) -> None:
    site.channel("adt.yaml", "channel: adt\nsource: {type: mllp, listen: '${LISTEN:-0.0.0.0:2575}'}\n")
    config = site.load(environ={"LISTEN": "10.1.2.3:3000"}).config
    assert config is not None
    source = config.channels["adt"].source
    assert isinstance(source, MllpSource)
    assert (source.listen.host, source.listen.port) == ("10.1.2.3", 3000)


def test_double_dollar_is_a_literal_dollar_sign(site: Site) -> None:
    site.channel(
        "adt.yaml",
        """
        channel: adt
        description: costs $$5, not ${PRICE:-$$6}; a lone $ stays
        source: {type: mllp, listen: 0.0.0.0:2575}
        """,
    )
    config = site.load().config
    assert config is not None
    assert config.channels["adt"].description == "costs $5, not $$6; a lone $ stays"


def test_plain_substituted_scalar_gets_its_yaml_type_back(site: Site) -> None:
    site.channel(
        "adt.yaml",
        """
        channel: adt
        enabled: ${ADT_ENABLED:-false}
        source:
          type: mllp
          listen: 0.0.0.0:2575
          max_frame_bytes: ${MAX_FRAME}
        """,
    )
    config = site.load(environ={"MAX_FRAME": "4096"}).config
    assert config is not None
    spec = config.channels["adt"]
    assert spec.enabled is False
    assert isinstance(spec.source, MllpSource)
    assert spec.source.max_frame_bytes == 4096


def test_quoted_substituted_scalar_stays_text(site: Site) -> None:
    site.channel(
        "adt.yaml",
        """
        channel: adt
        description: "${DESC:-2575}"
        source: {type: mllp, listen: 0.0.0.0:2575}
        """,
    )
    config = site.load().config
    assert config is not None
    assert config.channels["adt"].description == "2575"


def test_substitution_applies_to_engine_yaml_and_paths(site: Site) -> None:
    site.engine_yaml("store: ${HUITONG_STORE:-sqlite://}\nlogging: {level: '${LOG_LEVEL:-info}'}\n")
    site.channel(
        "lab.yaml",
        """
        channel: lab
        source: {type: mllp, listen: 0.0.0.0:2575}
        destinations:
          - {name: out, type: file, path: "${OUT:-out}/lab"}
        """,
    )
    config = site.load(environ={"LOG_LEVEL": "debug"}).config
    assert config is not None
    assert config.store == "sqlite://"
    assert config.logging.level == "debug"
    dest = config.channels["lab"].destinations[0]
    assert isinstance(dest, FileDestination)
    assert dest.path == site.channels_dir / "out" / "lab"


def test_every_unset_variable_of_a_scalar_is_named_once() -> None:
    with pytest.raises(SubstitutionError, match=r"environment variable A, B are not set"):
        substitute("${A}:${B}/${A}", {})


@pytest.mark.parametrize("text", ["${UNCLOSED", "${1BAD}", "${}"])
def test_malformed_reference_is_an_error(text: str) -> None:
    with pytest.raises(SubstitutionError, match=r"\$\$ for a literal"):
        substitute(text, {})
