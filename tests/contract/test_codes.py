"""Vendor status codes: every code of every shipped table means a canonical status."""

from __future__ import annotations

import pytest

from engine.domain.contract import CodeError, Status, TerminationReason
from engine.domain.contract.codes import Hint, VendorCodes

EXPECTED = {
    "bsoft-scm": {"1": Status.ACTIVE, "2": Status.TERMINATED, "3": Status.ACTIVE, "4": Status.PENDING},
    "bsoft-ehr": {"1": Status.ACTIVE, "2": Status.TERMINATED},
    "boco-fdoctor": {"1": Status.ACTIVE, "2": Status.ACTIVE, "3": Status.TERMINATED},
    "yihu-wlyy": {
        "-4": Status.EXPIRED, "-3": Status.TERMINATED, "-2": Status.CANCELLED, "-1": Status.CANCELLED,
        "0": Status.PENDING, "1": Status.ACTIVE, "2": Status.ACTIVE, "3": Status.ACTIVE,
    },
    "admin-ui": {
        "0": Status.PENDING, "1": Status.PENDING, "2": Status.CANCELLED, "3": Status.ACTIVE, "4": Status.EXPIRED,
    },
}


@pytest.fixture(scope="module")
def codes(reader) -> VendorCodes:  # type: ignore[no-untyped-def]
    return reader.codes


def test_the_three_vendor_code_sets_of_the_domain_notes_are_shipped(codes: VendorCodes) -> None:
    assert {"bsoft-scm", "boco-fdoctor", "yihu-wlyy"} <= set(codes.vendors())


@pytest.mark.parametrize("vendor", sorted(EXPECTED))
def test_each_table_maps_every_code_it_lists_and_nothing_else(codes: VendorCodes, vendor: str) -> None:
    assert set(codes.status[vendor].codes) == set(EXPECTED[vendor])
    assert {code: codes.status_of(vendor, code).status for code in EXPECTED[vendor]} == EXPECTED[vendor]


def test_every_shipped_table_targets_only_canonical_statuses_and_reasons(codes: VendorCodes) -> None:
    assert codes.check() == []


def test_every_table_cites_its_source(codes: VendorCodes) -> None:
    assert all(t.source for t in [*codes.status.values(), *codes.termination.values()])


@pytest.mark.parametrize(
    ("vendor", "code", "hint"),
    [
        ("boco-fdoctor", "2", Hint.RENEWAL_DUE),
        ("yihu-wlyy", "2", Hint.TERMINATION_REQUESTED),
        ("yihu-wlyy", "3", Hint.TERMINATION_REQUESTED),
        ("bsoft-scm", "3", Hint.RENEWED),
        ("bsoft-scm", "1", None),
    ],
)
def test_what_a_status_alone_cannot_say_comes_as_a_hint(codes: VendorCodes, vendor: str, code: str, hint) -> None:  # type: ignore[no-untyped-def]
    assert codes.status_of(vendor, code).hint == hint


def test_an_unknown_code_is_refused_naming_the_table(codes: VendorCodes) -> None:
    with pytest.raises(CodeError, match="contract-status-bsoft-scm"):
        codes.status_of("bsoft-scm", "7")


def test_an_unknown_vendor_is_refused_listing_the_known_ones(codes: VendorCodes) -> None:
    with pytest.raises(CodeError, match="yihu-wlyy"):
        codes.status_of("acme", "1")


def test_termination_reasons_come_canonical_or_through_the_vendor_table(codes: VendorCodes) -> None:
    assert codes.termination_reason(None, "DECEASED") is TerminationReason.DECEASED
    assert codes.termination_reason("bsoft-scm", "03") is TerminationReason.DECEASED
    with pytest.raises(CodeError):
        codes.termination_reason("yihu-wlyy", "03")
