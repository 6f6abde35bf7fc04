"""Load the contract XSD and vendor status tables once, from the mappings directory, into a ContractReader."""

from __future__ import annotations

from pathlib import Path

from engine.domain.contract import ContractReader, vendor_codes
from engine.domain.contract.codes import STATUS_PREFIX, TERMINATION_PREFIX
from engine.domain.mapping.tables import load_table

XSD = Path("contract") / "contract.xsd"


def load_contract_reader(mappings: Path) -> ContractReader:
    """The reader for ``mappings``; ValueError listing every table target that is not canonical."""
    files = [*mappings.glob(f"tables/{STATUS_PREFIX}*.yaml"), *mappings.glob(f"tables/{TERMINATION_PREFIX}*.yaml")]
    codes = vendor_codes({f.stem: load_table(f) for f in sorted(files)})
    problems = codes.check()
    if problems:
        raise ValueError("; ".join(problems))
    return ContractReader.build((mappings / XSD).read_bytes(), codes)
