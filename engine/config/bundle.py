"""Everything the loader compiles, as one typed value: the daemon and the commands take what they run from here,
so no rule, table or model file is read after the configuration has loaded (and `huitong validate` checks all
of it)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.care import CareRules
from engine.domain.contract import ContractReader
from engine.domain.contract.services import ServiceRules
from engine.domain.indicators import Indicator
from engine.domain.indicators.inputs import RecordInputs
from engine.domain.mapping import MappingSet
from engine.domain.mpi.matcher import Matcher
from engine.domain.orgs import OrgTree


@dataclass(frozen=True)
class RuleSet:
    """``care`` is None when the mappings hold no care/ (no tasks kept); ``record_inputs`` when they hold no
    indicators/inputs/record.yaml."""

    care: CareRules | None = None
    indicators: tuple[Indicator, ...] = ()
    record_inputs: RecordInputs | None = None


@dataclass(frozen=True)
class Bundle:
    """``orgs``, ``contracts`` and ``service_rules`` are None when no channel needs them."""

    mappings: MappingSet  # the compiled mappings and their code tables
    mpi: Matcher  # the MPI's settings and trained model
    rules: RuleSet  # care rules, indicator definitions and their record inputs
    orgs: OrgTree | None = None  # when a channel routes by institution
    contracts: ContractReader | None = None  # the contract schema and vendor status tables
    service_rules: ServiceRules | None = None  # services to contract items
