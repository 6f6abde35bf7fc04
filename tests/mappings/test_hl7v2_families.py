"""The message families beyond ADT, results and orders (issue 18): each has a public case and a county case.

A family's county messages live in samples/county/families/ (they also go through the corpus-to-record test); every
one of them must be the input of a mapping case, and every new family mapping must have a case per message type
listed here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "mappings" / "tests" / "hl7v2"
FAMILIES = ROOT / "samples" / "county" / "families"

# mapping -> message types that must each have a case
WANTED = {
    "siu": {"SIU^S12", "SIU^S15"},
    "mdm": {"MDM^T02"},
    "dispense": {"RDS^O13"},
    "administration": {"RAS^O17"},
    "lab_orders": {"OUL^R22", "OML^O33", "OMG^O19"},
    "financial": {"BAR^P01", "DFT^P03"},
}


def _message_type(raw: bytes) -> str:
    msh = raw.lstrip(b"\xef\xbb\xbf").split(b"\r")[0].split(b"\n")[0].split(b"|")
    return "^".join(msh[8].decode("ascii").split("^")[:2])


def _cases(family: str) -> list[tuple[Path, Path]]:
    """(case file, its input) of a family's folder."""
    out = []
    for case in sorted((CASES / family).glob("*.yaml")):
        data = yaml.safe_load(case.read_text(encoding="utf-8"))
        out.append((case, (case.parent / data["input"]).resolve()))
    return out


def test_every_family_has_a_case_per_message_type_and_a_county_case() -> None:
    for family, wanted in WANTED.items():
        cases = _cases(family)
        types = {_message_type(source.read_bytes()) for _, source in cases}
        assert wanted <= types, f"{family}: no case for {sorted(wanted - types)}"
        county = [source for _, source in cases if source.parent == FAMILIES.resolve()]
        assert county, f"{family}: no case reads a county message of samples/county/families"


def test_every_county_family_message_is_a_case_input_and_says_it_is_chinese() -> None:
    inputs = {source for family in WANTED for _, source in _cases(family)}
    for message in sorted(FAMILIES.glob("*.hl7")):
        assert message.resolve() in inputs, f"{message.name} is no case's input"
        msh = message.read_bytes().split(b"\r")[0].split(b"|")
        assert msh[16] == b"CHN", f"{message.name}: MSH-17 is not CHN"
        assert msh[17] in (b"GB 18030-2000", b"UNICODE UTF-8"), f"{message.name}: MSH-18 {msh[17]!r}"
