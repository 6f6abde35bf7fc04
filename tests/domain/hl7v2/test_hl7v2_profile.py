"""Observation profiles: units and plausible values a sender agreed to, checked per OBX-3 code."""

from __future__ import annotations

from engine.domain.formats.hl7v2 import ObservationRule, check_observations, inspect
from tests.support.corpus import one

ORDERS = "cdc-trusted-intermediary/examples/Test/Orders/"
NBS = {
    ("LN", "58229-6"): ObservationRule("Body weight", frozenset({"g"}), 200, 7000),
    ("LN", "57714-8"): ObservationRule("Gestational age", frozenset({"wk"}), 17, 45),
}


def problems_in(name: str, rules=NBS):  # type: ignore[no-untyped-def]
    found = inspect(one(ORDERS + name), default_charset="utf-8", validation="basic")
    assert found.message is not None
    return check_observations(found.message, rules)


def test_units_other_than_the_profiles_are_reported_per_obx() -> None:
    problems = problems_in("005_AL_ORM_O01_NBS_Incorrect_Units_0_initial_message.hl7")
    assert [(p.code, p.location) for p in problems] == [(103, "OBX[2]-6"), (103, "OBX[4]-6")]
    assert "expected g" in problems[0].text and "expected wk" in problems[1].text


def test_a_message_that_follows_the_profile_has_no_problems() -> None:
    assert problems_in("003_AL_ORM_O01_NBS_Fully_Populated_0_initial_message.hl7") == []


def test_a_value_outside_the_plausible_range_is_reported() -> None:
    tight = {("LN", "58229-6"): ObservationRule("Body weight", frozenset({"g"}), 200, 3000)}
    [problem] = problems_in("003_AL_ORM_O01_NBS_Fully_Populated_0_initial_message.hl7", tight)
    assert problem.location == "OBX[2]-5" and "outside 200" in problem.text


def test_codes_without_a_rule_are_not_checked() -> None:
    assert problems_in("005_AL_ORM_O01_NBS_Incorrect_Units_0_initial_message.hl7", {}) == []
