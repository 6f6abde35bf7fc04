"""Channels of the family-doctor loop: contract destinations and the change sources, their mistakes named."""

from __future__ import annotations

from engine.config import ContractEventsSource, load_config_or_raise
from engine.config.orgs import SHIPPED
from tests.config.config_site import Site, one_starting_with
from tests.contract.conftest import MAPPINGS

CONTRACTS = """\
channel: phs-contracts
source: {type: xml-http, mode: listen, listen: 127.0.0.1:18093, split: FamilyDoctorContract}
destinations:
"""
PUSH = """\
channel: township-push
source:
  type: contract-events
  format: json
  organisations: [%s]
destinations:
  - {name: out, type: file, path: out}
"""


def test_a_contract_destination_reads_the_shipped_contract_schema(site: Site) -> None:
    site.engine_yaml(f"mappings: {MAPPINGS}\n")
    site.channel("contracts.yaml", CONTRACTS + "  - {name: register, type: contract, vendor: bsoft-scm}\n")
    config = load_config_or_raise(site.engine, environ={})
    assert config.contracts is not None and "bsoft-scm" in config.contracts.codes.vendors()


def test_a_vendor_without_a_status_table_is_named(site: Site) -> None:
    site.engine_yaml(f"mappings: {MAPPINGS}\n")
    f = site.channel("contracts.yaml", CONTRACTS + "  - {name: register, type: contract, vendor: acme}\n")
    line = one_starting_with(site.lines(), f"{f}:4:46: destinations[0].vendor: ")
    assert "no contract status table for vendor 'acme' (known: " in line


def test_a_change_source_routed_by_institution_takes_it_and_those_below(site: Site) -> None:
    site.engine_yaml(f"mappings: {MAPPINGS}\n")
    site.channel("push.yaml", PUSH % "'339901101'")
    config = load_config_or_raise(site.engine, environ={})
    source = config.channels["township-push"].source
    assert isinstance(source, ContractEventsSource) and source.organisations == ("339901101",)
    assert "339901101201" in config.orgs.rollup("339901101")  # a village clinic under the township centre


def test_a_contract_destination_without_the_contract_schema_says_where_it_looked(site: Site) -> None:
    f = site.channel("contracts.yaml", CONTRACTS + "  - {name: register, type: contract}\n")
    line = one_starting_with(site.lines(), f"{f}:4:28: destinations[0].type: ")
    assert "cannot load the contract schema and code tables from " in line and "contract.xsd" in line


def test_an_institution_missing_from_the_registry_is_named(site: Site) -> None:
    site.engine_yaml(f"mappings: {MAPPINGS}\n")
    f = site.channel("push.yaml", PUSH % "'339901999'")
    line = one_starting_with(site.lines(), f"{f}:5:19: source.organisations[0]: ")
    assert line.endswith("no institution '339901999' in " + str(SHIPPED))


def test_a_change_channel_without_the_service_rules_says_where_it_looked(site: Site) -> None:
    f = site.channel("push.yaml", PUSH.replace("  organisations: [%s]\n", ""))
    line = one_starting_with(site.lines(), f"{f}:3:9: source.type: ")
    assert "cannot load the contract service rules from " in line and "service-items.yaml" in line
