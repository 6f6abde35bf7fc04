"""A mapped message that carries several patients, as one part per patient for the record.

The record files a message under one person (its Patient). A message with several PATIENT groups (BAR^P02 purging
the accounts of several patients, ADT^A41 merging the accounts of several) maps to one Patient per group, each group's
resources referring to their own; filing them all under the first would give one person another's visits and
demographics. Each part is one Patient with the resources that refer to it; a resource that refers to no Patient
stays with the first, and so do the message's events and notes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.domain.mapping.result import Mapped, Resource


def split(mapped: Mapped) -> list[Mapped]:
    """One Mapped per Patient of ``mapped`` (itself when it has one Patient or none), in the message's order."""
    patients = [f"Patient/{r.body.get('id')}" for r in mapped.resources if r.type == "Patient"]
    if len(patients) < 2:
        return [mapped]
    parts: dict[str, list[Resource]] = {p: [] for p in patients}
    for resource in mapped.resources:
        own = f"Patient/{resource.body.get('id')}" if resource.type == "Patient" else _patient_of(resource.body, parts)
        parts[own or patients[0]].append(resource)
    first, *others = patients
    return [replace(mapped, resources=tuple(parts[first]))] + [
        Mapped(mapped.mapping, mapped.version, tuple(parts[p])) for p in others
    ]


def _patient_of(node: Any, patients: dict[str, list[Resource]]) -> str | None:
    """The first Patient of the message that ``node`` refers to, if any."""
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str) and reference in patients:
            return reference
        values: Any = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return None
    for value in values:
        found = _patient_of(value, patients)
        if found is not None:
            return found
    return None
