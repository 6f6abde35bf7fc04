"""Source components, one module per source type; importing the package registers them all.

A new source type is one module here: its driver (``start`` returning a running source that journals through the
:class:`~engine.sources.journal.Journal` it is given), its messages' format, and optionally a bulk reader for
``huitong backfill``, registered with :func:`~engine.sources.component.register`.
"""

from engine.sources import database, events, fhir_pull, fhir_push, file, mllp, xml_http
from engine.sources.component import (
    Bulk,
    ChannelStartError,
    Component,
    Context,
    Reader,
    Refused,
    Running,
    Unavailable,
    component_of,
    rules_for,
)

__all__ = [
    "Bulk",
    "ChannelStartError",
    "Component",
    "Context",
    "Reader",
    "Refused",
    "Running",
    "Unavailable",
    "component_of",
    "database",
    "events",
    "fhir_pull",
    "fhir_push",
    "file",
    "mllp",
    "rules_for",
    "xml_http",
]
