"""A health assessment's facts: labels, the latest readings against targets, tasks and risk flags."""

from datetime import date

from engine.domain.care import Period, assess
from tests.care.fhir import bp_panel, bp_visit, condition, patient

YEAR_2026 = Period(date(2026, 1, 1), date(2026, 12, 31))


def test_the_assessment_reports_the_latest_bp_against_target(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10.x00", "原发性高血压"),
              *bp_visit("e1", "p1", "2026-02-10", 152, 94), bp_panel("o2", "p1", "2026-02-20", 134, 84)]
    result = assess(label_rules, task_rules, record, date(2026, 8, 10), YEAR_2026)
    bp = next(c for c in result.controls if c.control == "bp")
    assert (bp.on, bp.controlled) == (date(2026, 2, 20), True)
    assert [r.value for r in bp.readings] == [134, 84]
    fbg = next(c for c in result.controls if c.control == "fbg")
    assert (fbg.on, fbg.controlled) == (None, None)


def test_two_uncontrolled_visits_in_a_row_flag_referral(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10.x00", "原发性高血压"),
              *bp_visit("e1", "p1", "2026-02-10", 152, 94), bp_panel("o2", "p1", "2026-02-20", 184, 112)]
    result = assess(label_rules, task_rules, record, date(2026, 3, 1), YEAR_2026)
    assert [r.code for r in result.risks] == ["bp-uncontrolled-twice", "bp-urgent"]


def test_the_assessment_splits_tasks_into_done_open_and_overdue(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10.x00", "原发性高血压"),
              *bp_visit("e1", "p1", "2026-02-10", 128, 80)]
    result = assess(label_rules, task_rules, record, date(2026, 8, 10), YEAR_2026)
    assert [label.code for label in result.labels] == ["elderly-65", "hypertension"]
    assert [t.rule for t in result.done] == ["htn-followup"]
    assert sorted(t.rule for t in result.open) == ["elderly-annual", "htn-followup"]
    assert [t.start for t in result.overdue] == [date(2026, 4, 1)]
