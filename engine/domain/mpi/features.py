"""One flat record of normalised features per source record; the matcher compares these columns by name.

Every source format (form fields, FHIR Patient, the MPI CSV) goes through from_fields, so two records compare
the same way whichever system they came from. Absent values are None, never "".
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from engine.domain.mapping.result import RESIDENT_ID_SYSTEM
from engine.domain.mpi import contact, dates, names, resident_id

Features = dict[str, str | None]

# fmt: off
FEATURE_KEYS = (
    "id", "id_raw", "guardian_id", "name", "name_py", "name_py_variants", "family_py", "given_py",
    "name_sorted", "sex", "birth_year", "dob", "phone", "address", "division",
)
# fmt: on

# The HL7 v2 table 0203 identifier type of a national person identifier of China.
RESIDENT_ID_TYPE = "NNCHN"

# fmt: off
_SEX = {
    "m": "M", "male": "M", "男": "M", "男性": "M", "1": "M",
    "f": "F", "female": "F", "女": "F", "女性": "F", "2": "F",
}
# fmt: on


def sex(raw: str | None) -> str | None:
    """ "M" or "F" from the spellings sources use (GB/T 2261.1 codes 1 and 2, HL7 M/F, FHIR male/female, 男/女);
    None for unknown (0, 9, U), other and anything unrecognised: only a stated sex can disagree."""
    return _SEX.get(raw.strip().lower()) if raw else None


_sex = sex  # from_fields' keyword argument ``sex`` shadows the function inside it


@lru_cache(maxsize=65536)
def _name_features(name: str | None) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(name, name_py, name_py_variants, family_py, given_py): everything derived from the name, computed once."""
    cleaned = names.clean(name)
    if not cleaned:
        return None, None, None, None, None
    family_py, given_py = names.pinyin_parts(cleaned)
    variants = "|".join(sorted(names.pinyin_variants(cleaned)))
    return cleaned, (family_py + given_py) or None, variants or None, family_py or None, given_py or None


def from_fields(
    *,
    name: str | None,
    sex: str | None,
    birth_date: str | None,
    id_number: str | None,
    phone: str | None,
    address: str | None,
) -> Features:
    """The features of one record given as raw field values.

    A valid ID whose birth date or sex contradicts the record's is a guardian's (a newborn registered under
    the mother's number): it goes to guardian_id and neither to id nor id_raw, so it cannot merge the two. The
    record's birth date is never filled in from its ID: a source that did not state it should not look as if it had.
    """
    sex_code = _sex(sex)
    dob = dates.birth_date(birth_date)
    rid = resident_id.parse(id_number)
    own_id = id_raw = guardian_id = None
    if rid is not None:
        if rid.valid and resident_id.contradicts(rid, dob, sex_code):
            guardian_id = rid.value
        else:
            id_raw = rid.value
            own_id = rid.value if rid.valid else None
    name_clean, name_py, name_py_variants, family_py, given_py = _name_features(name)
    return {
        "id": own_id,
        "id_raw": id_raw,
        "guardian_id": guardian_id,
        "name": name_clean,
        "name_py": name_py,
        "name_py_variants": name_py_variants,
        "family_py": family_py,
        "given_py": given_py,
        # Family and given pinyin in alphabetical order: "WEI ZHANG" and 张伟 share it, whichever order was written.
        "name_sorted": "".join(sorted(p for p in (family_py, given_py) if p)) or None,
        "sex": sex_code,
        "birth_year": dob[:4] if dob else None,  # for blocking: a day or month mistyped still meets
        "dob": dob,
        "phone": contact.phone(phone),
        "address": contact.address(address),
        "division": contact.division(address),
    }


def _text(value: Any) -> str | None:
    """A non-empty string, else None (FHIR values may be missing, null or of the wrong type)."""
    return value if isinstance(value, str) and value.strip() else None


def _resident_id(patient: Mapping[str, Any]) -> str | None:
    """The value of the first identifier that is a resident ID, by system OID or by type code NNCHN."""
    for identifier in patient.get("identifier") or ():
        codings = (identifier.get("type") or {}).get("coding") or ()
        is_resident_id = identifier.get("system") == RESIDENT_ID_SYSTEM or any(
            c.get("code") == RESIDENT_ID_TYPE for c in codings
        )
        if is_resident_id and (value := _text(identifier.get("value"))):
            return value
    return None


def _patient_name(patient: Mapping[str, Any]) -> str | None:
    """name[0].text, else family and given joined: no space for Han names, "FAMILY GIVEN" for Latin ones."""
    entries = patient.get("name") or ()
    if not entries:
        return None
    first = entries[0]
    if text := _text(first.get("text")):
        return text
    parts = [p for p in [first.get("family"), *(first.get("given") or ())] if _text(p)]
    if not parts:
        return None
    return "".join(parts) if names.is_han("".join(parts)) else " ".join(parts)


def _patient_phone(patient: Mapping[str, Any]) -> str | None:
    """The first telecom entry with system phone."""
    for telecom in patient.get("telecom") or ():
        if telecom.get("system") == "phone" and (value := _text(telecom.get("value"))):
            return value
    return None


def _patient_address(patient: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(address text, division code) of address[0]: its text, else state + city + district + lines joined; the
    division from district, else postalCode, only when that is a known 6-digit GB/T 2260 code."""
    entries = patient.get("address") or ()
    if not entries:
        return None, None
    first = entries[0]
    text = _text(first.get("text"))
    if text is None:
        parts = [first.get("state"), first.get("city"), first.get("district"), *(first.get("line") or ())]
        text = "".join(p for p in parts if _text(p)) or None
    division = None
    for candidate in (first.get("district"), first.get("postalCode")):
        if _text(candidate) and (code := contact.division(candidate)) == candidate.strip():
            division = code
            break
    return text, division


def from_patient(patient: Mapping[str, Any]) -> Features:
    """The features of a FHIR R4 Patient resource (as a dict)."""
    address, division = _patient_address(patient)
    features = from_fields(
        name=_patient_name(patient),
        sex=_text(patient.get("gender")),
        birth_date=_text(patient.get("birthDate")),
        id_number=_resident_id(patient),
        phone=_patient_phone(patient),
        address=address,
    )
    features["division"] = division or features["division"]
    return features


def from_row(row: Mapping[str, str]) -> Features:
    """The features of one row of the MPI CSV (source,local_id,name,sex,birth_date,id_number,phone,address)."""
    return from_fields(
        name=row.get("name") or None,
        sex=row.get("sex") or None,
        birth_date=row.get("birth_date") or None,
        id_number=row.get("id_number") or None,
        phone=row.get("phone") or None,
        address=row.get("address") or None,
    )
