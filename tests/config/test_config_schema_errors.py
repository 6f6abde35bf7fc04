"""Each kind of mistake in one file: where it is reported and what the message asks for."""

from __future__ import annotations

import pytest

from tests.config.config_site import Site, one_starting_with

MLLP_HEAD = """
channel: adt
source:
  type: mllp
"""


def test_unknown_key_points_at_the_key_and_suggests_the_closest(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mllp
          listn: 0.0.0.0:2575
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:4:3: source.listn: ")
    assert "unknown key 'listn' (did you mean 'listen'?)" in line
    keys = "encoding, frame_timeout, idle_timeout, listen, max_connections, max_frame_bytes, profile, tls, type, "
    keys += "validation"
    assert f"expected one of: {keys}" in line


def test_unknown_top_level_key_lists_the_channel_keys(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        destinatons: []
        source: {type: mllp, listen: 0.0.0.0:2575}
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:2:1: destinatons: ")
    assert "did you mean 'destinations'?" in line
    keys = "channel, description, destinations, enabled, filter, map, retention, source, source_system"
    assert f"expected one of: {keys}" in line


def test_wrong_type_points_at_the_value_and_names_the_expected_type(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        enabled: maybe
        source:
          type: mllp
          listen: 0.0.0.0:2575
          max_frame_bytes: lots
        """,
    )
    lines = site.lines()
    assert one_starting_with(lines, f"{f}:2:10: enabled: ").endswith("expected true or false, got 'maybe'")
    assert one_starting_with(lines, f"{f}:6:20: source.max_frame_bytes: ").endswith(
        "expected a whole number, got 'lots'"
    )


def test_missing_field_points_at_the_mapping_that_lacks_it(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        description: no name, no source
        enabled: true
        """,
    )
    lines = site.lines()
    assert one_starting_with(lines, f"{f}:1:1: channel: ").endswith(
        "missing required key 'channel' (channel name, unique across files, e.g. his-adt)"
    )
    assert "missing required key 'source'" in one_starting_with(lines, f"{f}:1:1: source: ")


def test_missing_nested_field_points_at_the_nested_mapping(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mllp
          encoding: gb18030
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:3:3: source.listen: ")
    assert line.endswith("missing required key 'listen' (host:port to listen on, e.g. 0.0.0.0:2575)")


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("0.0.0.0:0", "the port must be from 1 to 65535, got 0 in '0.0.0.0:0'"),
        ("0.0.0.0:70000", "the port must be from 1 to 65535, got 70000 in '0.0.0.0:70000'"),
        ("0.0.0.0:abc", "the port must be a number from 1 to 65535, got 'abc' in '0.0.0.0:abc'"),
        (
            "localhost",
            "expected host:port, e.g. 0.0.0.0:2575 (IPv6 in brackets: [::1]:2575), got 'localhost'",
        ),
        ("::1:2575", "an IPv6 address must be written in brackets, e.g. [::1]:2575"),
    ],
)
def test_bad_listen_address_says_host_port_was_expected(site: Site, listen: str, expected: str) -> None:
    f = site.channel("adt.yaml", MLLP_HEAD + f"  listen: '{listen}'\n")
    line = one_starting_with(site.lines(), f"{f}:4:11: source.listen: ")
    assert expected in line


def test_ipv6_listen_address_in_brackets_is_accepted(site: Site) -> None:
    site.channel("adt.yaml", MLLP_HEAD + "  listen: '[::1]:2575'\n")
    config = site.load().config
    assert config is not None
    listen = config.channels["adt"].source.listen  # type: ignore[union-attr]
    assert (listen.host, listen.port, str(listen)) == ("::1", 2575, "[::1]:2575")


def test_bad_duration_says_which_forms_are_accepted(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
  idle_timeout: 5 minutes
""",
    )
    line = one_starting_with(site.lines(), f"{f}:5:17: source.idle_timeout: ")
    assert line.endswith("expected a duration such as 500ms, 5s, 10m, 1h, 1d or a number of seconds, got '5 minutes'")


def test_unknown_filename_placeholder_lists_the_allowed_ones(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
destinations:
  - name: archive
    type: file
    path: out
    filename: "{channel}_{patient_name}.hl7"
""",
    )
    line = one_starting_with(site.lines(), f"{f}:9:15: destinations[0].filename: ")
    assert line.endswith(
        "unknown placeholder {patient_name} in the file name; expected one of: "
        "{channel}, {destination}, {message_id}, {control_id}, {message_type}"
    )


def test_tls_client_auth_without_ca_file_points_at_client_auth(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
  tls:
    cert_file: server.crt
    key_file: server.key
    client_auth: required
""",
    )
    line = one_starting_with(site.lines(check_environment=False), f"{f}:8:18: source.tls.client_auth: ")
    assert "client_auth: required needs ca_file" in line
    assert "add ca_file or set client_auth: none" in line


def test_yaml_syntax_error_is_reported_at_its_line_and_column(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mllp
          listen: [0.0.0.0:2575
        destinations: []
        """,
    )
    lines = site.lines()
    line = one_starting_with(lines, f"{f}:5:13: (file): YAML syntax error: ")
    assert "expected ',' or ']'" in line
    assert len(lines) == 1


def test_tab_indentation_gets_a_hint_to_use_spaces(site: Site) -> None:
    f = site.channel("adt.yaml", "channel: adt\nsource:\n\ttype: mllp\n")
    line = one_starting_with(site.lines(), f"{f}:3:1: (file): YAML syntax error: ")
    assert line.endswith("YAML does not allow tabs for indentation, use spaces")


def test_unknown_source_type_lists_the_known_types(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source:
          type: mlp
          listen: 0.0.0.0:2575
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:3:9: source.type: ")
    known = (
        "mllp, file, fhir-push, fhir-pull, xml-http, database, mpi-events, contract-events, service-events, task-events"
    )
    assert line.endswith(f"unknown type 'mlp' (did you mean 'mllp'?); expected one of: {known}")


def test_destination_without_type_points_at_the_destination(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
destinations:
  - name: lis
    target: 10.0.0.2:2576
""",
    )
    line = one_starting_with(site.lines(), f"{f}:6:5: destinations[0].type: ")
    assert line.endswith("missing required key 'type'; expected one of: mllp, file, fhir, http, record, contract")


def test_bad_choice_suggests_the_closest_allowed_value(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
destinations:
  - {name: lis, type: mllp, target: 10.0.0.2:2576, on_ae: retri}
""",
    )
    line = one_starting_with(site.lines(), f"{f}:6:59: destinations[0].on_ae: ")
    assert line.endswith("expected one of: retry, dead, accept; got 'retri' (did you mean 'retry'?)")


def test_bad_message_type_in_filter_points_at_the_entry(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
filter:
  message_types: [ADT^A01, adt^a04]
""",
    )
    line = one_starting_with(site.lines(), f"{f}:6:28: filter.message_types[1]: ")
    assert "expected an HL7 message type such as ADT^A01, ADT^* (every ADT event) or ADT" in line
    assert line.endswith("(upper case: ADT^A04)")


def test_bad_channel_name_says_what_names_look_like(site: Site) -> None:
    f = site.channel("adt.yaml", "channel: HIS ADT\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    line = one_starting_with(site.lines(), f"{f}:1:10: channel: ")
    assert "expected a name of lower-case letters, digits, '_', '.' and '-'" in line
    assert line.endswith("got 'HIS ADT'")


def test_retry_max_interval_shorter_than_initial_interval_is_an_error(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
destinations:
  - name: lis
    type: mllp
    target: 10.0.0.2:2576
    retry: {initial_interval: 1m, max_interval: 10s}
""",
    )
    line = one_starting_with(site.lines(), f"{f}:9:49: destinations[0].retry.max_interval: ")
    assert line.endswith("max_interval (10s) must not be shorter than initial_interval (60s)")


def test_retry_max_attempts_below_one_says_the_minimum(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        MLLP_HEAD
        + """\
  listen: 0.0.0.0:2575
destinations:
  - name: lis
    type: mllp
    target: 10.0.0.2:2576
    retry:
      max_attempts: 0
""",
    )
    line = one_starting_with(site.lines(), f"{f}:10:21: destinations[0].retry.max_attempts: ")
    assert line.endswith("expected a number at least 1, got 0")


def test_duplicate_yaml_key_is_an_error_at_the_second_key(site: Site) -> None:
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source: {type: mllp, listen: 0.0.0.0:2575}
        channel: adt2
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:3:1: channel: ")
    assert line.endswith("duplicate key 'channel' (first given at line 1, column 1)")


def test_file_that_is_not_utf8_names_the_line(site: Site) -> None:
    f = site.channels_dir / "adt.yaml"
    f.write_bytes("channel: adt\n# 检验科\n".encode("gb18030"))
    line = one_starting_with(site.lines(), f"{f}:2:3: (file): ")
    assert "not valid UTF-8" in line


def test_empty_channel_file_is_an_error(site: Site) -> None:
    f = site.channel("adt.yaml", "# nothing yet\n")
    assert site.lines() == [f"{f}:1:1: (file): the file is empty; a channel file needs at least channel: and source:"]


def test_engine_yaml_errors_use_the_same_form(site: Site) -> None:
    site.engine_yaml(
        """
        store: sqlite:///../var/h.db
        logging:
          level: verbose
          colour: true
        """
    )
    lines = site.lines()
    assert one_starting_with(lines, f"{site.engine}:3:10: logging.level: ").endswith(
        "expected one of: debug, info, warning, error; got 'verbose'"
    )
    assert one_starting_with(lines, f"{site.engine}:4:3: logging.colour: ").endswith(
        "unknown key 'colour'; expected one of: file, format, level"
    )


def test_store_that_is_not_a_url_is_rejected_without_echoing_it(site: Site) -> None:
    site.engine_yaml("store: huitong:secret@db\n")
    line = one_starting_with(site.lines(), f"{site.engine}:1:8: store: ")
    assert "expected a database URL of the form dialect://" in line
    assert "secret" not in line
