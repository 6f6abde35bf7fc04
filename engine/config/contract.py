"""Load the contract data of the mappings directory: the XSD and vendor status tables (a ContractReader), and the
service rules that match hospital services to contract package items."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.domain.contract import ContractReader, vendor_codes
from engine.domain.contract.codes import STATUS_PREFIX, TERMINATION_PREFIX
from engine.domain.contract.services import ServiceRules, compile_service_rules

from .mappings import load_table

XSD = Path("contract") / "contract.xsd"
SERVICE_RULES = Path("contract") / "service-items.yaml"


def load_contract_reader(mappings: Path) -> ContractReader:
    """The reader for ``mappings``; ValueError listing every table target that is not canonical."""
    files = [*mappings.glob(f"tables/{STATUS_PREFIX}*.yaml"), *mappings.glob(f"tables/{TERMINATION_PREFIX}*.yaml")]
    codes = vendor_codes({f.stem: load_table(f) for f in sorted(files)})
    problems = codes.check()
    if problems:
        raise ValueError("; ".join(problems))
    return ContractReader.build((mappings / XSD).read_bytes(), codes)


def load_service_rules(mappings: Path) -> ServiceRules:
    """mappings/contract/service-items.yaml; OSError or ValueError naming the item and key when it is wrong."""
    path = mappings / SERVICE_RULES
    try:
        return compile_service_rules(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
