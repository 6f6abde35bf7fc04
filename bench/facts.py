"""Key facts of a set of FHIR R4 resources, for comparing two converters while ignoring ids and order.

A fact is ``(resource type, field, normalised value)``. Only what a reader of the record would act on is
taken: who the patient is, which encounter, which diagnoses, which measurements with which values and
times, which vaccines,
which procedures, which orders. Ids, references, displays, narrative, meta and ordering are ignored.

Pure functions over dicts; used by ``bench/conformance.py`` (against Microsoft FHIR-Converter's expected
bundles) and ``bench/cda.py`` (against python-fhir-converter output in the same run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

Fact = tuple[str, str, str]

# Fields whose values are FHIR date/dateTime: compared at the precision both sides give.
TIME_FIELDS = frozenset(
    {"birthDate", "period.start", "period.end", "effective", "occurrence", "performed", "authoredOn", "onset"}
)
# Fields whose value is a coded concept: the codes of its codings, joined with "|" in sorted order. Two
# concepts agree when they share a code (a CDA <code> and its <translation>s are codings of one concept;
# one converter may keep them all, another only one).
CODE_FIELDS = frozenset({"code", "vaccineCode", "value.coded"})


def _resources(source: Any) -> list[dict[str, Any]]:
    """Resources of a Bundle dict, or of an iterable of resource dicts."""
    if isinstance(source, dict) and source.get("resourceType") == "Bundle":
        return [e["resource"] for e in source.get("entry", []) if "resource" in e]
    return list(source)


def _codes(concept: Any) -> str | None:
    """The codes of a CodeableConcept as one value ("a|b"), or None when it has none."""
    if not isinstance(concept, dict):
        return None
    codes = sorted({str(c["code"]).strip() for c in concept.get("coding", []) if c.get("code")})
    return "|".join(codes) or None


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _number(value: Any) -> str:
    """7, 7.0, "7.00" -> "7"; 13.20 -> "13.2" (numbers compare by value, not by spelling)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return _text(value)
    return f"{f:.10g}"


def _telecom(value: str) -> str:
    v = value.strip()
    for prefix in ("tel:", "mailto:", "fax:", "http://", "https://"):
        if v.lower().startswith(prefix):
            v = v[len(prefix):]
    return v.strip()


def facts(source: Any) -> Counter[Fact]:
    """The multiset of key facts of ``source`` (a Bundle dict or an iterable of resource dicts)."""
    resources = _resources(source)
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources if r.get("id")}
    out: Counter[Fact] = Counter()

    def add(rtype: str, field: str, value: Any) -> None:
        if value is None or value == "":
            return
        out[(rtype, field, _text(value))] += 1

    for r in resources:
        t = r.get("resourceType", "")
        if t == "Patient":
            for ident in r.get("identifier", []):
                add(t, "identifier", ident.get("value"))
            for name in r.get("name", []):
                add(t, "name.family", name.get("family"))
                for g in name.get("given", []):
                    add(t, "name.given", g)
            add(t, "gender", r.get("gender"))
            add(t, "birthDate", r.get("birthDate"))
            for a in r.get("address", []):
                for line in a.get("line", []):
                    add(t, "address.line", line)
                add(t, "address.city", a.get("city"))
                add(t, "address.postalCode", a.get("postalCode"))
            for tc in r.get("telecom", []):
                if tc.get("value"):
                    add(t, "telecom", _telecom(tc["value"]))
        elif t == "Encounter":
            cls = r.get("class")
            if isinstance(cls, dict):
                add(t, "class", cls.get("code"))
            period = r.get("period", {})
            add(t, "period.start", period.get("start"))
            add(t, "period.end", period.get("end"))
            for loc in r.get("location", []):
                ref = loc.get("location", {})
                target = by_ref.get(ref.get("reference", ""))
                add(t, "location", (target or {}).get("name") or ref.get("display"))
        elif t == "Condition":
            add(t, "code", _codes(r.get("code")))
        elif t == "Observation":
            add(t, "code", _codes(r.get("code")))
            q = r.get("valueQuantity")
            if isinstance(q, dict):
                add(t, "value", _number(q.get("value")) if "value" in q else None)
                add(t, "unit", q.get("unit") or q.get("code"))
            add(t, "value.coded", _codes(r.get("valueCodeableConcept")))
            if "valueString" in r:
                add(t, "value", r["valueString"])
            if "valueInteger" in r:
                add(t, "value", _number(r["valueInteger"]))
            eff = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start")
            add(t, "effective", eff)
        elif t == "Immunization":
            add(t, "vaccineCode", _codes(r.get("vaccineCode")))
            add(t, "occurrence", r.get("occurrenceDateTime"))
        elif t == "ServiceRequest":
            add(t, "code", _codes(r.get("code")))
            add(t, "authoredOn", r.get("authoredOn"))
            add(t, "occurrence", r.get("occurrenceDateTime") or (r.get("occurrencePeriod") or {}).get("start"))
        elif t == "AllergyIntolerance":
            add(t, "code", _codes(r.get("code")))
            add(t, "onset", r.get("onsetDateTime"))
        elif t == "Procedure":
            add(t, "code", _codes(r.get("code")))
            add(t, "performed", r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start"))
    return out


def _parse(value: str) -> tuple[int, datetime | None, str]:
    """(precision in characters, aware datetime when a time with zone is given, the text)."""
    v = value.strip()
    if len(v) > 10 and "T" in v:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            if dt.tzinfo is not None:
                return len(v), dt, v
        except ValueError:
            pass
    return len(v), None, v


def times_agree(a: str, b: str) -> bool:
    """Two FHIR date/dateTimes agree at the precision both give.

    Both with a time and a zone: the same instant to the minute. Otherwise the shorter one is a prefix
    of the longer one as written (a date-only value carries no zone, so it is compared as local text).
    """
    la, da, ta = _parse(a)
    lb, db, tb = _parse(b)
    if da is not None and db is not None:
        return abs((da - db).total_seconds()) < 60
    n = min(la, lb, 16 if "T" in ta and "T" in tb else 10)
    return ta[:n] == tb[:n]


def codes_agree(a: str, b: str) -> bool:
    """Two coded concepts agree when they share a code."""
    return bool(set(a.split("|")) & set(b.split("|")))


def compare(ours: Counter[Fact], theirs: Counter[Fact]) -> tuple[Counter[Fact], Counter[Fact], Counter[Fact]]:
    """(agreed, only ours, only theirs) as multisets; time fields match at the common precision.

    ``agreed`` holds the matched facts as the other converter wrote them.
    """
    agreed = ours & theirs
    only_ours = ours - agreed
    only_theirs = theirs - agreed
    # Second pass: time facts that differ only in precision or zone spelling, concepts that share a code.
    for fact in list(only_theirs.elements()):
        t, field, value = fact
        if field in TIME_FIELDS:
            same = times_agree
        elif field in CODE_FIELDS:
            same = codes_agree
        else:
            continue
        for cand in only_ours:
            if cand[0] == t and cand[1] == field and only_ours[cand] > 0 and same(cand[2], value):
                only_ours[cand] -= 1
                only_theirs[fact] -= 1
                agreed[fact] += 1
                break
    return agreed, +only_ours, +only_theirs


def agreement(ours: Counter[Fact], theirs: Counter[Fact]) -> tuple[int, int]:
    """(agreed facts, facts in the union): agreement is their ratio (Jaccard over multisets)."""
    agreed, only_ours, only_theirs = compare(ours, theirs)
    n = sum(agreed.values())
    return n, n + sum(only_ours.values()) + sum(only_theirs.values())


def types_of(fs: Iterable[Fact]) -> set[str]:
    return {f[0] for f in fs}
