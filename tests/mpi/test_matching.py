"""The shipped MPI settings and model on pairs a county sees: what links, what a reviewer decides, what never links."""

from __future__ import annotations

from typing import Any

from engine.domain.mpi.features import from_fields
from engine.domain.mpi.matcher import Candidate, Matcher
from tests.mpi._ids import with_check
from tests.support.mpi import shipped_resolver

MATCHER: Matcher = shipped_resolver().matcher
ZHANG = {
    "name": "张伟",
    "sex": "男",
    "birth_date": "1990-03-07",
    "id_number": with_check("33010619900307123"),
    "phone": "13800138000",
    "address": "浙江省杭州市西湖区文三路1号",
}


def person(**changes: Any) -> dict[str, str | None]:
    return from_fields(**{**ZHANG, **changes})


def grade(a: dict[str, str | None], b: dict[str, str | None], frequencies: Any = None) -> str:
    return MATCHER.explain(a, b, frequencies or {}).grade


def test_the_same_record_from_two_sources_is_certain() -> None:
    assert grade(person(), person(sex="1", birth_date="19900307")) == "certain"


def test_a_homophone_name_with_the_same_birth_date_and_phone_is_certain_without_an_id() -> None:
    assert grade(person(id_number=None), person(name="张玮", id_number=None)) == "certain"


def test_a_traditional_form_and_a_romanised_name_in_given_first_order_are_the_same_name() -> None:
    assert grade(person(id_number=None), person(name="張偉", id_number=None)) == "certain"
    assert grade(person(id_number=None), person(name="WEI ZHANG", id_number=None)) == "certain"


def test_day_and_month_swapped_still_links() -> None:
    assert grade(person(id_number=None), person(birth_date="1990-07-03", id_number=None)) == "certain"


def test_a_15_digit_id_is_the_18_digit_one() -> None:
    old = "330106900307123"  # first generation: YYMMDD, no check digit
    assert grade(person(), person(id_number=old, phone=None, address=None)) == "certain"


def test_a_mistyped_id_with_the_same_name_and_birth_date_links() -> None:
    typo = "33010619900307124" + ZHANG["id_number"][-1]  # the check digit no longer fits
    assert grade(person(), person(id_number=typo)) == "certain"


def test_two_different_valid_ids_are_never_linked_whatever_else_agrees() -> None:
    twin = person(name="张伟", id_number=with_check("33010619900307135"))
    explanation = MATCHER.explain(person(), twin, {})
    assert explanation.grade == "certainly-not"
    assert explanation.rule == "different resident IDs"


def test_twins_without_ids_are_not_linked_automatically() -> None:
    a = person(name="陈一涵", id_number=None, sex="女")
    b = person(name="陈一妍", id_number=None, sex="女")
    assert grade(a, b) in ("probable", "possible", "certainly-not")


def test_siblings_with_homophone_names_but_different_birth_dates_are_not_linked_automatically() -> None:
    older = person(name="彭子皓", birth_date="2020-10-10", id_number=None)
    newborn = person(name="彭子浩", birth_date="2026-03-08", id_number=None)
    assert grade(older, newborn) != "certain"


def test_a_newborn_registered_under_the_mothers_id_is_not_the_mother() -> None:
    mother = person(name="李娜", sex="女", birth_date="1992-11-20", id_number=with_check("33010619921120246"))
    newborn = person(name="李娜之女", sex="女", birth_date="2026-06-01", id_number=mother["id_raw"])
    assert newborn["id"] is None and newborn["guardian_id"] == mother["id"]
    assert grade(mother, newborn) != "certain"


def test_the_same_id_with_a_different_name_goes_to_a_reviewer() -> None:
    explanation = MATCHER.explain(person(), person(name="王芳", sex="男"), {})
    assert explanation.grade == "probable"
    assert explanation.rule == "same resident ID, conflicting demographics"


def test_agreeing_on_a_common_name_counts_less_than_on_a_rare_one() -> None:
    a, b = person(id_number=None, phone=None), person(id_number=None, phone=None)
    common = MATCHER.explain(a, b, {"name": {"张伟": (2000, 1_000_000)}})
    rare = MATCHER.explain(a, b, {"name": {"张伟": (1, 1_000_000)}})
    assert common.weight < rare.weight
    assert next(c.tf_adjustment for c in common.contributions if c.comparison == "name") < 0


def test_in_a_small_store_no_name_counts_as_common() -> None:
    a, b = person(id_number=None, phone=None), person(id_number=None, phone=None)
    few = MATCHER.explain(a, b, {"name": {"张伟": (1, 2)}})
    assert abs(next(c.tf_adjustment for c in few.contributions if c.comparison == "name")) < 0.1


def test_an_explanation_adds_up_and_names_the_blocking_rule() -> None:
    e = MATCHER.explain(person(), person(phone=None), {})
    total = e.prior_weight + sum(c.weight + c.tf_adjustment for c in e.contributions)
    assert abs(total - e.weight) < 1e-9
    assert e.blocking_rule == ["id_raw"]
    assert [c.level for c in e.contributions if c.comparison == "phone"] == ["null"]


def test_a_person_with_a_different_valid_id_on_another_record_is_certainly_not_the_arrival() -> None:
    arrival = person()
    other = person(id_number=with_check("33010619900307151"))  # same name, birth date, phone: another ID
    no_id = person(id_number=None)
    scores = MATCHER.persons(arrival, [Candidate("r1", "p1", no_id), Candidate("r2", "p1", other)], {})
    assert [(s.person_id, s.grade_name) for s in scores] == [("p1", "certainly-not")]
