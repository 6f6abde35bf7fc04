"""Appointment duration (``python:`` hook on the SIU Appointment rule).

The HL7 v2-to-FHIR IG maps SCH-9 (appointment duration) to Appointment.minutesDuration only "if SCH-10 indicates
units of minutes" (https://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-sch-to-appointment.html): a condition on
another field, which a template cannot state. Senders write the unit as ``min``, ``Min``, ``MIN`` or ``分钟``.
"""

from __future__ import annotations

from typing import Any

_MINUTES = {"min", "mins", "minute", "minutes", "m", "分钟", "分"}


def appointment_duration(resource: dict[str, Any], reader: Any) -> dict[str, Any]:
    """Set minutesDuration from SCH-9 when SCH-10 is minutes and SCH-9 a positive whole number."""
    unit = (reader.get("-10.1") or "").strip().lower()
    value = (reader.get("-9") or "").strip()
    if unit in _MINUTES and value.isdigit() and int(value) > 0:
        resource["minutesDuration"] = int(value)
    return resource
