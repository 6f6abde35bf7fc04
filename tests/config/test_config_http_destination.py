"""The http destination in a channel file: its defaults, and its mistakes named at their place."""

from __future__ import annotations

from engine.config import load_config_or_raise
from engine.config.models import HttpDestination
from tests.config.config_site import Site, one_starting_with

HEAD = """\
channel: phis-records
source: {type: xml-http, mode: listen, listen: 0.0.0.0:8081}
destinations:
"""


def test_http_destination_defaults_to_post_xml_without_token(site: Site) -> None:
    site.channel("phis.yaml", HEAD + "  - {name: phis, type: http, url: 'https://phis.example/api/records'}\n")
    (dest,) = load_config_or_raise(site.engine, environ={}).channels["phis-records"].destinations
    assert isinstance(dest, HttpDestination)
    assert (dest.url, dest.method, dest.content_type, dest.token, dest.timeout) == (
        "https://phis.example/api/records",
        "POST",
        "application/xml; charset=utf-8",
        None,
        30.0,
    )


def test_http_destination_takes_method_content_type_token_and_timeout(site: Site) -> None:
    site.channel(
        "phis.yaml",
        HEAD
        + """\
  - name: sms
    type: http
    url: http://10.0.0.9:8080/sms/send
    method: PUT
    content_type: application/json
    token: s3cret
    timeout: 5s
""",
    )
    (dest,) = load_config_or_raise(site.engine, environ={}).channels["phis-records"].destinations
    assert isinstance(dest, HttpDestination)
    assert (dest.method, dest.content_type, dest.token, dest.timeout) == ("PUT", "application/json", "s3cret", 5.0)


def test_http_destination_without_url_points_at_the_destination(site: Site) -> None:
    f = site.channel("phis.yaml", HEAD + "  - name: phis\n    type: http\n")
    line = one_starting_with(site.lines(), f"{f}:4:5: destinations[0].url: ")
    assert line.endswith("missing required key 'url' (URL the message is sent to, e.g. https://phis.example/records)")


def test_http_destination_method_other_than_post_or_put_is_named(site: Site) -> None:
    f = site.channel("phis.yaml", HEAD + "  - {name: phis, type: http, url: 'https://phis.example/r', method: PATCH}\n")
    line = one_starting_with(site.lines(), f"{f}:4:69: destinations[0].method: ")
    assert line.endswith("expected one of: POST, PUT; got 'PATCH'")


def test_http_destination_url_must_be_http_or_https(site: Site) -> None:
    f = site.channel("phis.yaml", HEAD + "  - {name: phis, type: http, url: 'ftp://phis.example/r'}\n")
    assert "got 'ftp://phis.example/r'" in one_starting_with(site.lines(), f"{f}:4:35: destinations[0].url: ")
