"""Checks across files: names, ports and directories that must not be shared."""

from __future__ import annotations

from tests.config.config_site import Site, one_starting_with


def test_duplicate_channel_names_name_both_files(site: Site) -> None:
    a = site.channel("a.yaml", "channel: adt\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    b = site.channel("b.yaml", "# copy of a.yaml\nchannel: adt\nsource: {type: mllp, listen: 0.0.0.0:2576}\n")
    line = one_starting_with(site.lines(), f"{b}:2:10: channel: ")
    assert line.endswith(f"channel name 'adt' is already used by {a}:1:10; channel names must be unique")


def test_same_port_twice_names_both_files(site: Site) -> None:
    a = site.channel("a.yaml", "channel: adt\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    b = site.channel("b.yaml", "channel: orm\nsource:\n  type: mllp\n  listen: 127.0.0.1:2575\n")
    line = one_starting_with(site.lines(), f"{b}:4:11: source.listen: ")
    assert f"port 2575 is already used by the mllp source of channel 'adt' ({a}:2:30)" in line
    assert line.endswith("each enabled listening source needs its own port")


def test_a_disabled_channel_may_share_a_port(site: Site) -> None:
    site.channel("a.yaml", "channel: adt\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    site.channel("b.yaml", "channel: adt-next\nenabled: false\nsource: {type: mllp, listen: 0.0.0.0:2575}\n")
    assert site.lines() == []


def test_two_file_sources_on_the_same_directory_are_an_error(site: Site) -> None:
    a = site.channel("a.yaml", "channel: lab\nsource: {type: file, path: ../inbox}\n")
    b = site.channel("b.yaml", "channel: lab2\nsource: {type: file, path: ../inbox/}\n")
    line = one_starting_with(site.lines(), f"{b}:2:28: source.path: ")
    assert f"is already polled by channel 'lab' ({a}:2:28)" in line


def test_destination_names_must_be_unique_in_a_channel(site: Site) -> None:
    f = site.channel(
        "a.yaml",
        """
        channel: adt
        source: {type: mllp, listen: 0.0.0.0:2575}
        destinations:
          - {name: out, type: file, path: out1}
          - {name: out, type: file, path: out2}
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:5:12: destinations[1].name: ")
    assert line.endswith(
        f"destination name 'out' is already used by destinations[0] at {f}:4:12; names must be unique within a channel"
    )


def test_file_destination_into_a_polled_directory_is_an_error(site: Site) -> None:
    site.channel("lab.yaml", "channel: lab\nsource: {type: file, path: ../inbox}\n")
    f = site.channel(
        "adt.yaml",
        """
        channel: adt
        source: {type: mllp, listen: 0.0.0.0:2575}
        destinations:
          - name: out
            type: file
            path: ../inbox
        """,
    )
    line = one_starting_with(site.lines(), f"{f}:6:11: destinations[0].path: ")
    assert "is polled by the file source of channel 'lab'" in line
    assert line.endswith("messages written here would be read back in")
