"""Tasks from the basic public-health specification: windows, what closes them from any source, and states."""

from datetime import date

from engine.domain.care import Period, TaskState, labels_of, tasks_for
from tests.care.fhir import HIS, PHS, bp_panel, bp_visit, condition, observation, patient

YEAR_2026 = Period(date(2026, 1, 1), date(2026, 12, 31))


def evaluate(label_rules, task_rules, record, on):
    return tasks_for(task_rules, labels_of(label_rules, record, on), record, on, YEAR_2026)


def hypertensive_67_year_old():
    """Born 1959; I10 since 2024; followed up in February (controlled) and on 3 August (152/94, uncontrolled)."""
    return [
        patient("p1", "1959-02-10"),
        condition("c1", "p1", "I10.x00", "原发性高血压"),
        *bp_visit("e-feb", "p1", "2026-02-10T09:30:00+08:00", 132, 84),
        *bp_visit("e-aug", "p1", "2026-08-03T10:00:00+08:00", 152, 94),
    ]


def by_rule(tasks, rule):
    return [t for t in tasks if t.rule == rule]


def test_quarterly_hypertension_follow_ups_are_done_overdue_due_or_planned(label_rules, task_rules):
    tasks = evaluate(label_rules, task_rules, hypertensive_67_year_old(), on=date(2026, 8, 10))
    quarters = by_rule(tasks, "htn-followup")
    assert [(t.start, t.end, t.state) for t in quarters] == [
        (date(2026, 1, 1), date(2026, 3, 31), TaskState.DONE),
        (date(2026, 4, 1), date(2026, 6, 30), TaskState.OVERDUE),
        (date(2026, 7, 1), date(2026, 9, 30), TaskState.DONE),
        (date(2026, 10, 1), date(2026, 12, 31), TaskState.PLANNED),
    ]
    assert quarters[0].evidence.resource == "Observation/e-feb-sbp"
    assert quarters[0].evidence.source == PHS


def test_a_67_year_old_gets_the_annual_elderly_health_check_as_due(label_rules, task_rules):
    tasks = evaluate(label_rules, task_rules, hypertensive_67_year_old(), on=date(2026, 8, 10))
    [annual] = by_rule(tasks, "elderly-annual")
    assert (annual.start, annual.end, annual.state) == (date(2026, 1, 1), date(2026, 12, 31), TaskState.DUE)


def test_an_uncontrolled_visit_creates_a_recheck_within_two_weeks(label_rules, task_rules):
    tasks = evaluate(label_rules, task_rules, hypertensive_67_year_old(), on=date(2026, 8, 10))
    [recheck] = by_rule(tasks, "htn-recheck")
    assert (recheck.start, recheck.end, recheck.state) == (date(2026, 8, 4), date(2026, 8, 17), TaskState.DUE)
    assert recheck.trigger.resource == "Observation/e-aug-sbp"
    assert recheck.trigger.fact == "bp uncontrolled: systolic_bp 152 mm[Hg], diastolic_bp 94 mm[Hg]"


def test_a_controlled_visit_creates_no_recheck(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10", "Essential hypertension"),
              *bp_visit("e1", "p1", "2026-05-06", 128, 78)]
    assert by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "htn-recheck") == []


def test_the_recheck_is_closed_by_a_later_hospital_reading(label_rules, task_rules):
    record = [*hypertensive_67_year_old(), bp_panel("his-bp-1", "p1", "2026-08-12T15:20:00+08:00", 136, 86)]
    [recheck] = by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 20)), "htn-recheck")
    assert recheck.state is TaskState.DONE
    assert recheck.evidence.resource == "Observation/his-bp-1"
    assert recheck.evidence.source == HIS


def test_a_recheck_with_no_reading_within_two_weeks_is_overdue(label_rules, task_rules):
    [recheck] = by_rule(evaluate(label_rules, task_rules, hypertensive_67_year_old(), on=date(2026, 8, 18)),
                        "htn-recheck")
    assert recheck.state is TaskState.OVERDUE


def test_a_second_reading_the_same_day_decides_the_visit(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10", "Essential hypertension"),
              *bp_visit("e1", "p1", "2026-05-06T09:00:00+08:00", 150, 92),
              bp_panel("o2", "p1", "2026-05-06T09:20:00+08:00", 134, 82)]
    assert by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "htn-recheck") == []


def test_two_missed_quarters_in_a_row_are_lost_to_follow_up(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10", "Hypertension", recorded="2020-01-01")]
    states = [t.state for t in by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "htn-followup")]
    assert states == [TaskState.OVERDUE, TaskState.LOST, TaskState.DUE, TaskState.PLANNED]


def test_quarters_before_the_diagnosis_are_not_asked_for(label_rules, task_rules):
    record = [patient("p1", "1959-02-10"), condition("c1", "p1", "I10", "Hypertension", recorded="2026-05-20")]
    quarters = by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "htn-followup")
    assert [t.start for t in quarters] == [date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)]


def test_hypertension_under_35_has_a_label_but_no_follow_up_tasks(label_rules, task_rules):
    record = [patient("p1", "1995-01-01"), condition("c1", "p1", "I10", "Essential hypertension")]
    assert evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)) == []


def test_a_fasting_glucose_in_mg_dl_at_or_above_7_mmol_l_creates_a_recheck(label_rules, task_rules):
    record = [patient("p1", "1970-06-01"), condition("c1", "p1", "E11.900", "2型糖尿病"),
              observation("g1", "p1", "2026-07-20T08:00:00+08:00", "1558-6", "Fasting glucose", 140, "mg/dL")]
    tasks = evaluate(label_rules, task_rules, record, on=date(2026, 7, 25))
    assert by_rule(tasks, "t2dm-followup")[2].state is TaskState.DONE
    [recheck] = by_rule(tasks, "t2dm-recheck")
    assert recheck.trigger.fact == "fbg uncontrolled: fasting_glucose 7.77 mmol/L"


def test_a_childs_schedule_follows_age_in_the_period(label_rules, task_rules):
    record = [
        patient("k1", "2026-01-20", gender="female"),
        observation("w1", "k1", "2026-01-25", "29463-7", "Body weight", 3.4, "kg", source=PHS),
        observation("w2", "k1", "2026-04-28", "29463-7", "Body weight", 6.1, "kg", source=PHS),
    ]
    tasks = by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "child-health")
    assert [(t.name, t.start, t.end, t.state) for t in tasks] == [
        ("新生儿家庭访视", date(2026, 1, 20), date(2026, 1, 30), TaskState.DONE),
        ("满月健康管理", date(2026, 2, 17), date(2026, 2, 19), TaskState.OVERDUE),
        ("3月龄健康检查", date(2026, 4, 20), date(2026, 5, 19), TaskState.DONE),
        ("6月龄健康检查", date(2026, 7, 20), date(2026, 8, 19), TaskState.DUE),
        ("8月龄健康检查", date(2026, 9, 20), date(2026, 10, 19), TaskState.PLANNED),
    ]


def test_a_four_year_old_has_the_yearly_check_of_the_period(label_rules, task_rules):
    record = [patient("k2", "2022-03-15")]
    [task] = by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 8, 10)), "child-health")
    assert (task.name, task.start, task.end, task.state) == (
        "4岁健康检查", date(2026, 3, 15), date(2027, 3, 14), TaskState.DUE)


def test_prenatal_visits_are_counted_from_the_last_menstrual_period(label_rules, task_rules):
    lmp = observation("lmp", "w1", "2026-03-02", "8665-2", "Last menstrual period start date", 0, "1", source=PHS)
    del lmp["valueQuantity"]
    lmp["valueDateTime"] = "2026-02-02"
    record = [patient("w1", "1996-03-03", gender="female"), lmp]
    tasks = by_rule(evaluate(label_rules, task_rules, record, on=date(2026, 5, 10)), "prenatal")
    assert [(t.start, t.state) for t in tasks] == [
        (date(2026, 2, 2), TaskState.OVERDUE),
        (date(2026, 5, 25), TaskState.PLANNED),
        (date(2026, 6, 29), TaskState.PLANNED),
        (date(2026, 8, 17), TaskState.PLANNED),
        (date(2026, 10, 19), TaskState.PLANNED),
    ]


def test_re_evaluation_gives_the_same_task_ids(label_rules, task_rules):
    record = hypertensive_67_year_old()
    first = evaluate(label_rules, task_rules, record, on=date(2026, 8, 10))
    again = evaluate(label_rules, task_rules, list(reversed(record)), on=date(2026, 8, 10))
    later = evaluate(label_rules, task_rules, record, on=date(2026, 8, 20))
    assert [t.id for t in first] == [t.id for t in again]
    assert [t.id for t in first] == [t.id for t in later]
    assert len({t.id for t in first}) == len(first)
