"""Key-population labels come from the record on the evaluation date, each with the resource that made it."""

from datetime import date

from engine.domain.care import labels_of
from tests.care.fhir import condition, patient


def codes(labels):
    return [label.code for label in labels]


def test_a_67_year_old_with_active_hypertension_is_elderly_and_hypertensive(label_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10.x00", "原发性高血压")]
    labels = labels_of(label_rules, record, on=date(2026, 8, 10))
    assert codes(labels) == ["elderly-65", "hypertension"]
    hypertension = labels[1]
    assert hypertension.evidence[0].resource == "Condition/c1"
    assert hypertension.evidence[0].fact == "Condition I10.x00"
    assert labels[0].evidence[0].fact == "age 67 (born 1959-02-10)"


def test_a_resolved_condition_gives_no_label(label_rules):
    record = [patient("p1", "1980-05-01"), condition("c1", "p1", "E11.900", "2型糖尿病", status="resolved")]
    assert labels_of(label_rules, record, on=date(2026, 8, 10)) == []


def test_a_refuted_diagnosis_gives_no_label(label_rules):
    refuted = condition("c1", "p1", "F20.000", "精神分裂症")
    refuted["verificationStatus"] = {"coding": [{"code": "refuted"}]}
    assert labels_of(label_rules, [patient("p1", "1980-05-01"), refuted], on=date(2026, 8, 10)) == []


def test_age_is_counted_on_the_evaluation_date_not_today(label_rules):
    record = [patient("p1", "1961-09-01")]
    assert codes(labels_of(label_rules, record, on=date(2026, 8, 31))) == []
    assert codes(labels_of(label_rules, record, on=date(2026, 9, 1))) == ["elderly-65"]


def test_a_child_is_labelled_until_the_seventh_birthday(label_rules):
    record = [patient("k1", "2019-10-01", gender="female")]
    assert codes(labels_of(label_rules, record, on=date(2026, 9, 30))) == ["child-0-6"]
    assert codes(labels_of(label_rules, record, on=date(2026, 10, 1))) == []


def test_a_diagnosis_recorded_after_the_evaluation_date_is_not_yet_known(label_rules):
    record = [patient("p1", "1980-05-01"), condition("c1", "p1", "A15.000", "肺结核", recorded="2026-09-01")]
    assert codes(labels_of(label_rules, record, on=date(2026, 8, 10))) == []
    assert codes(labels_of(label_rules, record, on=date(2026, 9, 1))) == ["tuberculosis"]


def test_secondary_hypertension_is_not_the_managed_population(label_rules):
    record = [patient("p1", "1970-05-01"), condition("c1", "p1", "I15.000", "继发性高血压")]
    assert labels_of(label_rules, record, on=date(2026, 8, 10)) == []


def test_a_recent_delivery_makes_a_postpartum_woman_maternal_for_42_days(label_rules):
    record = [patient("w1", "1996-03-03", gender="female"),
              condition("d1", "w1", "O80.000", "单胎顺产", status="resolved", recorded="2026-07-01")]
    assert codes(labels_of(label_rules, record, on=date(2026, 8, 12))) == ["maternal"]
    assert codes(labels_of(label_rules, record, on=date(2026, 8, 13))) == []


def test_a_date_that_is_no_real_day_gives_a_fact_no_date_instead_of_failing() -> None:
    from engine.domain.care.fhir import parse_date, when

    assert parse_date("2017-02-29T12:52:00-05:00") is None
    assert when({"resourceType": "Observation", "effectiveDateTime": "2017-02-29"}) is None
    assert parse_date(5) is None
    assert parse_date("2024-02-29") is not None
