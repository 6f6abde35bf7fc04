"""Typed configuration: what a valid engine.yaml and a valid channel file mean.

Models are frozen and compare with ``==``, so a reload can diff old and new channels. Field
descriptions are shown when a required key is missing, and docs/configuration.md documents each
field under the same name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.domain.contract import ContractReader
from engine.domain.contract.services import ServiceRules
from engine.domain.mapping import MappingSet
from engine.domain.mpi.matcher import Matcher
from engine.domain.orgs import OrgTree

from .alerts import AlertsSpec, DiskRule
from .bundle import Bundle, RuleSet
from .values import (
    Duration,
    Encoding,
    FilenameTemplate,
    HostPortValue,
    MessageTypePattern,
    Name,
    ResolvedPath,
    StoreUrl,
)

__all__ = [
    "AlertsSpec",
    "ChannelSpec",
    "ConsoleSpec",
    "DatabaseSource",
    "DestinationSpec",
    "DestinationTLS",
    "EngineConfig",
    "EngineFile",
    "FhirApiSpec",
    "FhirDestination",
    "FhirPullSource",
    "FhirPushSource",
    "FileDestination",
    "FileSource",
    "HttpDestination",
    "LoggingSpec",
    "MessageFilter",
    "MllpDestination",
    "MllpSource",
    "ObservationProfile",
    "ObservationRule",
    "RecordDestination",
    "RecordSpec",
    "RetryPolicy",
    "SourceSpec",
    "SourceTLS",
    "XmlHttpSource",
]


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error from a model-level check that belongs to one of the model's fields.

    Pydantic places model-level errors on the model; the loader moves this one onto ``field`` so
    the position is that of the offending value.
    """
    return PydanticCustomError("config_field", "{message}", {"field": field, "message": message})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


# --- engine.yaml -------------------------------------------------------------------------------


class LoggingSpec(_Spec):
    """How the engine logs. ``auto`` is console output on a terminal and JSON otherwise."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="least severe level written"
    )
    format: Literal["auto", "json", "console"] = Field(default="auto", description="log line format")
    file: ResolvedPath | None = Field(default=None, description="log file; standard error when absent")


class RecordSpec(_Spec):
    """The unified health record: whose value wins when several sources describe one resource."""

    precedence: dict[
        Annotated[str, Field(pattern=r"^[A-Z][A-Za-z]+$")],
        dict[Annotated[str, Field(pattern=r"^[a-z][A-Za-z]*$")], tuple[Annotated[str, Field(min_length=1)], ...]],
    ] = Field(
        default_factory=dict,
        description="per resource type (e.g. Patient), per field or default: source-system patterns, first wins",
    )
    processes: int = Field(
        default=1,
        ge=0,
        description="processes beside the daemon that map and write the record destinations (each a core); "
        "0 keeps that work in the daemon's process",
    )


class EngineFile(_Spec):
    """The keys of engine.yaml as written (before channels are loaded)."""

    store: StoreUrl = Field(
        default="sqlite:///../var/huitong.db", validate_default=True, description="SQLAlchemy database URL"
    )
    channels: ResolvedPath = Field(
        default=Path("../channels"), validate_default=True, description="directory of channel files"
    )
    logging: LoggingSpec = Field(default_factory=lambda: LoggingSpec(), description="logging settings")
    mappings: ResolvedPath = Field(
        default=Path("../mappings"),
        validate_default=True,
        description="directory of mappings, code tables and mapping tests (docs/mappings.md)",
    )
    record: RecordSpec = Field(default_factory=lambda: RecordSpec(), description="unified health record settings")
    fhir_api: FhirApiSpec | None = Field(default=None, description="serve the record as FHIR R4; off when absent")
    console: ConsoleSpec | None = Field(
        default=None, description="the operators' console, management API, metrics and health; off when absent"
    )
    mpi: ResolvedPath | None = Field(
        default=None,
        description="master patient index settings (comparisons, blocking, thresholds; the trained model is "
        "the file its model: names, beside it); default mpi.yaml beside engine.yaml, else the shipped "
        "config/mpi.yaml",
    )
    node: Name | None = Field(
        default=None,
        description="this engine process's name in a shared store; default the host name (set it when "
        "several engines run on one host against one PostgreSQL)",
    )
    alerts: AlertsSpec | None = Field(default=None, description="alert rules and where alerts go; off when absent")

    @model_validator(mode="after")
    def _disk_rule_needs_a_folder(self) -> EngineFile:
        if self.alerts is not None and not self.store.startswith("sqlite"):
            for i, rule in enumerate(self.alerts.rules):
                if isinstance(rule, DiskRule) and rule.path is None:
                    raise field_error(
                        "alerts",
                        f"rules[{i}] ({rule.name}): the store is not a SQLite file, so its volume is not here; "
                        "give the rule a path on the volume to watch",
                    )
        return self


# --- sources -----------------------------------------------------------------------------------


class SourceTLS(_Spec):
    """TLS for a listener (MLLP, HTTP sources, FHIR API, console); ``client_auth`` other than ``none`` checks client
    certificates."""

    cert_file: ResolvedPath = Field(description="server certificate (PEM), e.g. tls/server.crt")
    key_file: ResolvedPath = Field(description="private key of cert_file (PEM), e.g. tls/server.key")
    ca_file: ResolvedPath | None = Field(default=None, description="CA bundle that signs client certificates")
    client_auth: Literal["none", "optional", "required"] = Field(default="none", description="client certificates")

    @model_validator(mode="after")
    def _client_auth_needs_ca(self) -> SourceTLS:
        if self.client_auth != "none" and self.ca_file is None:
            raise field_error(
                "client_auth",
                f"client_auth: {self.client_auth} needs ca_file, the CA bundle that signs client "
                "certificates; add ca_file or set client_auth: none",
            )
        return self


class FhirApiSpec(_Spec):
    """The FHIR R4 read API over the record (docs/fhir-api.md): its own listener, TLS like the MLLP listeners."""

    listen: HostPortValue = Field(description="host:port to listen on, e.g. 0.0.0.0:8090")
    tls: SourceTLS | None = Field(default=None, description="TLS settings; plain HTTP when absent")
    max_count: int = Field(default=200, gt=0, le=1000, description="largest page a search answers (_count)")
    export_dir: ResolvedPath = Field(
        default=Path("../var/fhir-export"),
        validate_default=True,
        description="where Bulk Data export files are written (a folder per job; created if missing)",
    )
    export_expires: Duration = Field(
        default=86400.0, gt=0, description="how long a finished export's files are kept for download, e.g. 1d"
    )

    @field_validator("export_dir")
    @classmethod
    def _a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; export_dir must be a folder (made if missing)")
        return value


class ConsoleSpec(_Spec):
    """The operators' listener (docs/console.md): web console, management API under /api/v1, /metrics, /healthz,
    /readyz. Its own port, TLS like the MLLP listeners."""

    listen: HostPortValue = Field(description="host:port to listen on, e.g. 0.0.0.0:8080")
    tls: SourceTLS | None = Field(default=None, description="TLS settings; plain HTTP when absent")
    auth: Literal["users", "none"] = Field(
        default="users", description="users: every page and call needs a login or token; none: open (validate warns)"
    )
    session_lifetime: Duration = Field(
        default=43200.0, gt=0, description="how long a sign-in lasts before the next one is asked for, e.g. 12h"
    )


class ObservationRule(_Spec):
    """What a profile expects of one observation code (OBX-3): its units (OBX-6) and plausible values (OBX-5)."""

    code: str = Field(min_length=1, description="observation code, e.g. 58229-6")
    system: str = Field("LN", min_length=1, description="coding system of the code (OBX-3.3), e.g. LN")
    label: str = Field("", description="what the code means, for people")
    units: tuple[str, ...] | None = Field(None, description="accepted units (OBX-6.1), e.g. [g]")
    min: float | None = Field(None, description="lowest plausible numeric value")
    max: float | None = Field(None, description="highest plausible numeric value")


class ObservationProfile(_Spec):
    """A validation profile file: rules for observations that a channel's sender must follow."""

    profile: Name = Field(description="profile name, e.g. nbs-orders")
    description: str = Field("", description="free text for people")
    source: str = Field("", description="where the rules come from")
    observations: tuple[ObservationRule, ...] = Field(description="one rule per observation code")


class MllpSource(_Spec):
    """Listens for HL7 v2 over MLLP and ACKs after the journal commit."""

    type: Literal["mllp"]
    listen: HostPortValue = Field(description="host:port to listen on, e.g. 0.0.0.0:2575")
    encoding: Encoding = Field(default="utf-8", description="codec used when MSH-18 is empty")
    max_frame_bytes: int = Field(default=1024 * 1024, gt=0, description="largest accepted MLLP frame")
    idle_timeout: Duration = Field(default=300.0, ge=0, description="close idle connections after this; 0 = never")
    max_connections: int = Field(default=256, gt=0, description="connections held at once; more are closed at once")
    frame_timeout: Duration = Field(
        default=60.0, gt=0, description="a frame must be complete this long after its first byte, else closed"
    )
    validation: Literal["basic", "strict"] = Field(default="basic", description="how strictly messages are checked")
    profile: ResolvedPath | None = Field(
        default=None, description="observation profile file: units and value ranges per OBX-3 code"
    )
    tls: SourceTLS | None = Field(default=None, description="TLS settings; plain TCP when absent")


class FileSource(_Spec):
    """Polls a directory for HL7 files; moves each to done_dir or error_dir once handled."""

    type: Literal["file"]
    path: ResolvedPath = Field(description="directory to poll, e.g. ../var/inbox/lab")
    glob: str = Field(default="*.hl7", min_length=1, description="which file names to pick up")
    poll_interval: Duration = Field(default=5.0, gt=0, description="time between directory scans")
    encoding: Encoding = Field(default="utf-8", description="codec used when MSH-18 is empty")
    validation: Literal["basic", "strict"] = Field(default="basic", description="how strictly messages are checked")
    profile: ResolvedPath | None = Field(
        default=None, description="observation profile file: units and value ranges per OBX-3 code"
    )
    format: Literal["hl7v2", "ndjson", "fhir-json", "xml"] = Field(
        default="hl7v2", description="what the files hold: HL7 v2, FHIR NDJSON, a FHIR resource/Bundle, an XML document"
    )
    done_dir: ResolvedPath = Field(default=None, description="where handled files go; default <path>/done")  # type: ignore[assignment]
    error_dir: ResolvedPath = Field(default=None, description="where failed files go; default <path>/error")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _default_dirs(self) -> FileSource:
        # Defaults depend on the resolved path; set once, while the instance is still being built.
        if self.done_dir is None:
            object.__setattr__(self, "done_dir", self.path / "done")
        if self.error_dir is None:
            object.__setattr__(self, "error_dir", self.path / "error")
        return self


_URL = r"^https?://[^\s/?#]+[^\s]*$"
_RESOURCE_TYPE = r"^[A-Z][A-Za-z]{1,63}$"
_URL_PATH = r"^/[A-Za-z0-9._~/-]*$"
MAX_PAYLOAD_BYTES = 20 * 1024 * 1024


class FhirPushSource(_Spec):
    """A FHIR endpoint that EMRs POST resources and transaction/batch Bundles to; answers after the commit."""

    type: Literal["fhir-push"]
    listen: HostPortValue = Field(description="host:port to listen on, e.g. 0.0.0.0:8080")
    path: str = Field(default="/fhir", pattern=_URL_PATH, description="URL path prefix of the FHIR base")
    auth_token: str | None = Field(
        default=None, min_length=1, description="bearer token senders must present, e.g. ${EMR_PUSH_TOKEN}"
    )
    max_bytes: int = Field(default=MAX_PAYLOAD_BYTES, gt=0, description="largest accepted request body")
    tls: SourceTLS | None = Field(default=None, description="TLS settings (HTTPS); plain HTTP when absent")


class FhirPullSource(_Spec):
    """Polls a FHIR REST server for resources updated since the last poll (a watermark kept in the store)."""

    type: Literal["fhir-pull"]
    base_url: str = Field(pattern=_URL, description="FHIR base URL, e.g. https://emr.example/fhir")
    resource_types: tuple[Annotated[str, Field(pattern=_RESOURCE_TYPE)], ...] = Field(
        min_length=1, description="resource types to search, e.g. [Patient, Encounter, Observation]"
    )
    poll_interval: Duration = Field(default=60.0, gt=0, description="time between polls")
    page_size: int = Field(default=100, gt=0, le=1000, description="resources per page (_count)")
    token: str | None = Field(default=None, min_length=1, description="bearer token sent to the server")
    timeout: Duration = Field(default=30.0, gt=0, description="how long one request may take")
    max_bytes: int = Field(default=MAX_PAYLOAD_BYTES, gt=0, description="largest accepted response body")
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(),
        description="backfill: how a page request that got no answer, HTTP 429 or 5xx is retried before the "
        "backfill stops (the live poll retries at its next poll)",
    )


class XmlHttpSource(_Spec):
    """XML records over HTTP: polled from a URL (``mode: poll``) or POSTed to us (``mode: listen``)."""

    type: Literal["xml-http"]
    mode: Literal["poll", "listen"] = Field(description="poll a URL, or listen for POSTs")
    url: str | None = Field(default=None, pattern=_URL, description="poll: the URL to GET")
    poll_interval: Duration = Field(default=60.0, gt=0, description="poll: time between requests")
    listen: HostPortValue | None = Field(default=None, description="listen: host:port, e.g. 0.0.0.0:8081")
    path: str = Field(default="/xml", pattern=_URL_PATH, description="listen: the URL path POSTs go to")
    token: str | None = Field(
        default=None, min_length=1, description="bearer token: sent when polling, required of senders when listening"
    )
    split: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9._-]*$", description="element local name of one record in a list"
    )
    timeout: Duration = Field(default=30.0, gt=0, description="poll: how long one request may take")
    max_bytes: int = Field(default=MAX_PAYLOAD_BYTES, gt=0, description="largest accepted document")
    tls: SourceTLS | None = Field(default=None, description="listen: TLS settings (HTTPS); plain HTTP when absent")

    @model_validator(mode="after")
    def _mode_needs_its_address(self) -> XmlHttpSource:
        if self.mode == "poll" and self.url is None:
            raise field_error("url", "mode: poll needs url, the address to GET records from")
        if self.mode == "poll" and self.tls is not None:
            raise field_error("tls", "tls is for mode: listen; a polled URL is HTTPS when it starts with https://")
        if self.mode == "listen" and self.listen is None:
            raise field_error("listen", "mode: listen needs listen, the host:port to accept POSTs on")
        return self


class DatabaseSource(_Spec):
    """Polls a database view or intermediate table (视图 / 中间表) read-only: each new row becomes one JSON
    message; the watermark column's last value is kept in the store (docs/database-source.md)."""

    type: Literal["database"]
    url: StoreUrl = Field(
        description="SQLAlchemy URL of the source database, e.g. postgresql+psycopg://reader@his-db/his, "
        "mysql+pymysql://reader@his-db/his or sqlite:///his.db; ${ENV} keeps the password out of the file"
    )
    query: str = Field(
        min_length=1,
        description="SELECT with a :watermark bind parameter, ordered by the watermark column, e.g. "
        "SELECT * FROM v_outpatient_visit WHERE updated_at >= :watermark ORDER BY updated_at, visit_no",
    )
    watermark: str = Field(
        min_length=1, description="the column (as the query returns it) whose last value is kept, e.g. updated_at"
    )
    start: str | int | None = Field(
        default=None,
        description="the watermark before the first row, e.g. '2024-01-01 00:00:00' or 0; default 0 (below every "
        "id, and every date/time on SQLite and MySQL; PostgreSQL needs a start for a time watermark)",
    )
    message_type: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the messages' table: value and type, what mappings choose by, e.g. his.outpatient_visit",
    )
    poll_interval: Duration = Field(default=60.0, gt=0, description="time between polls")
    batch_size: int = Field(default=500, gt=0, le=100000, description="most new rows journaled per poll")
    timeout: Duration = Field(default=30.0, gt=0, description="how long connecting or one query may take")

    @field_validator("query")
    @classmethod
    def _query_takes_watermark(cls, value: str) -> str:
        if not re.search(r"(?<![:\w]):watermark\b", value):
            raise ValueError(
                "the query needs the :watermark bind parameter, e.g. WHERE updated_at >= :watermark ORDER BY updated_at"
            )
        return value


MpiEvent = Literal["merge", "unmerge", "link", "unlink"]


class MpiEventsSource(_Spec):
    """The master patient index's changes (merges, unmerges, links, unlinks) as JSON messages, to pass on."""

    type: Literal["mpi-events"]
    events: tuple[MpiEvent, ...] = Field(
        default=("merge", "unmerge", "link", "unlink"), min_length=1, description="which changes this channel gets"
    )


class ContractEventsSource(_Spec):
    """Every family-doctor contract change the engine applied, rendered for one receiving system.

    ``hl7v2``: an ADT^A31 with PD1-4, ROL and ZFD (docs/contract-his.md) for a HIS; ``fhir``: a transaction of
    EpisodeOfCare, CareTeam and a generalPractitioner patch for an EMR; ``json``: the contract snapshot.
    """

    type: Literal["contract-events"]
    format: Literal["hl7v2", "fhir", "json"] = Field(description="hl7v2 (ADT^A31), fhir (transaction) or json")
    receiver_system: str | None = Field(
        default=None,
        min_length=1,
        description="the source_system of the receiving system's own channel: the resident's numbers there (found "
        "through the MPI) identify them, in PID-3 (hl7v2) or in the generalPractitioner patch (fhir)",
    )
    encoding: Literal["gb18030", "utf-8"] = Field(default="gb18030", description="hl7v2: character set of the push")
    sending_application: str = Field(default="HUITONG", min_length=1, description="hl7v2: MSH-3")
    sending_facility: str = Field(default="", description="hl7v2: MSH-4")
    receiving_application: str = Field(default="HIS", description="hl7v2: MSH-5")
    receiving_facility: str = Field(default="", description="hl7v2: MSH-6")
    organisations: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description="only contracts managed by these institutions or those below them (config/organisations.yaml); "
        "all when absent",
    )


class ServiceEventsSource(_Spec):
    """Services that contracted residents received elsewhere (an HIS visit, a lab result, a prescription), as
    service-record XML for the public-health system (docs/contract-services.md)."""

    type: Literal["service-events"]
    organisations: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description="only contracts managed by these institutions or those below them (config/organisations.yaml); "
        "all when absent",
    )


class TaskEventsSource(_Spec):
    """Care tasks (follow-ups, checks) each time one is created or changes state, for a worklist or a gateway."""

    type: Literal["task-events"]
    format: Literal["fhir", "json"] = Field(description="fhir (a Task, conditional update) or json")
    states: tuple[Literal["DUE", "OVERDUE", "DONE", "LOST"], ...] = Field(
        default=("DUE", "OVERDUE"), min_length=1, description="which states are passed on"
    )


EVENT_SOURCES = (MpiEventsSource, ContractEventsSource, ServiceEventsSource, TaskEventsSource)

SourceSpec = Annotated[
    MllpSource
    | FileSource
    | FhirPushSource
    | FhirPullSource
    | XmlHttpSource
    | DatabaseSource
    | MpiEventsSource
    | ContractEventsSource
    | ServiceEventsSource
    | TaskEventsSource,
    Field(discriminator="type"),
]


# --- destinations ------------------------------------------------------------------------------


class RetryPolicy(_Spec):
    """How an outbox retries a failed delivery before the message is dead-lettered."""

    max_attempts: int = Field(default=10, ge=1, description="attempts before the message is dead (DEAD)")
    backoff: Literal["exponential", "fixed"] = Field(default="exponential", description="how waits grow")
    initial_interval: Duration = Field(default=1.0, gt=0, description="wait after the first failure")
    max_interval: Duration = Field(default=600.0, gt=0, description="longest wait between attempts")
    multiplier: float = Field(default=2.0, ge=1, description="growth factor of exponential backoff")

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RetryPolicy:
        if self.max_interval < self.initial_interval:
            raise field_error(
                "max_interval",
                f"max_interval ({self.max_interval:g}s) must not be shorter than initial_interval "
                f"({self.initial_interval:g}s)",
            )
        return self


class DestinationTLS(_Spec):
    """TLS for an MLLP client connection."""

    ca_file: ResolvedPath | None = Field(
        default=None, description="CA bundle to verify the server; system CAs when absent"
    )
    cert_file: ResolvedPath | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    key_file: ResolvedPath | None = Field(default=None, description="private key of cert_file (PEM)")
    verify: bool = Field(default=True, description="verify the server certificate and host name")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> DestinationTLS:
        if self.cert_file is not None and self.key_file is None:
            raise field_error("cert_file", "cert_file needs key_file, the private key of the client certificate")
        if self.key_file is not None and self.cert_file is None:
            raise field_error("key_file", "key_file needs cert_file, the client certificate it belongs to")
        return self


class _Destination(_Spec):
    name: Name = Field(description="destination name, unique in the channel, e.g. lis-forward")
    message_types: tuple[MessageTypePattern, ...] | None = Field(
        default=None, description="message types sent here; all when absent"
    )
    order_by: Literal["person"] | None = Field(default=None, description="keep per-patient order (by PID-3)")
    retry: RetryPolicy = Field(default_factory=lambda: RetryPolicy(), description="retry policy")


class MllpDestination(_Destination):
    """Sends HL7 v2 over MLLP and waits for the ACK."""

    type: Literal["mllp"]
    target: HostPortValue = Field(description="host:port to send to, e.g. 10.1.2.3:2576")
    ack_timeout: Duration = Field(default=30.0, gt=0, description="how long to wait for the ACK")
    on_ae: Literal["retry", "dead", "accept"] = Field(default="retry", description="what an AE (error) ACK does")
    on_ar: Literal["retry", "dead", "accept"] = Field(default="dead", description="what an AR (reject) ACK does")
    tls: DestinationTLS | None = Field(default=None, description="TLS settings; plain TCP when absent")


class FileDestination(_Destination):
    """Writes each message to a file in a directory."""

    type: Literal["file"]
    path: ResolvedPath = Field(description="directory to write to, e.g. ../var/out/his-adt")
    filename: FilenameTemplate = Field(
        default="{channel}_{message_id}_{control_id}.hl7", description="file name template"
    )


class FhirDestination(_Destination):
    """Sends each message's FHIR resources as one transaction Bundle of conditional updates (idempotent)."""

    type: Literal["fhir"]
    url: str = Field(pattern=_URL, description="FHIR base URL, e.g. https://emr.example/fhir")
    token: str | None = Field(default=None, min_length=1, description="bearer token sent to the server")
    timeout: Duration = Field(default=30.0, gt=0, description="how long one request may take")


class HttpDestination(_Destination):
    """Sends each message's journaled bytes, unchanged, in one HTTP request (XML records, JSON to a gateway)."""

    type: Literal["http"]
    url: str = Field(pattern=_URL, description="URL the message is sent to, e.g. https://phis.example/records")
    method: Literal["POST", "PUT"] = Field(default="POST", description="HTTP method")
    content_type: str = Field(
        default="application/xml; charset=utf-8", min_length=1, description="Content-Type header of the request"
    )
    token: str | None = Field(default=None, min_length=1, description="bearer token sent to the server")
    timeout: Duration = Field(default=30.0, gt=0, description="how long one request may take")


class RecordDestination(_Destination):
    """Maps each message with the channel's map: and writes the FHIR resources into the unified health record."""

    type: Literal["record"]


class ContractDestination(_Destination):
    """Reads family-doctor contract XML (mappings/contract/contract.xsd), keeps the newest version of each
    contract, files it in the unified health record, and passes each change to the contract-events channels."""

    type: Literal["contract"]
    vendor: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]+$",
        description="the status code set (mappings/tables/contract-status-<vendor>.yaml) of documents that do not "
        "name one, e.g. bsoft-scm; needed when the source splits a list (split:), which drops the list's vendor=",
    )


DestinationSpec = Annotated[
    MllpDestination | FileDestination | FhirDestination | HttpDestination | RecordDestination | ContractDestination,
    Field(discriminator="type"),
]


# --- channel -----------------------------------------------------------------------------------


class MessageFilter(_Spec):
    """Which messages a channel accepts; the others are journaled as FILTERED."""

    message_types: tuple[MessageTypePattern, ...] = Field(description="accepted message types, e.g. [ADT^A01, ADT^A04]")


class Retention(_Spec):
    """How long the journal keeps a channel's messages (engine/pipeline/retention.py). Nothing a delivery still
    waits for is pruned, however old."""

    content: Duration = Field(gt=0, description="keep the raw message and its stored content this long, e.g. 90d")
    metadata: Duration = Field(
        gt=0, description="keep the journal row (type, control ID, statuses) this long, e.g. 365d"
    )

    @model_validator(mode="after")
    def _metadata_outlives_content(self) -> Retention:
        if self.metadata < self.content:
            raise ValueError("metadata must be kept at least as long as content")
        return self


class ChannelSpec(_Spec):
    """One channel file: a source, an optional filter, and destinations."""

    _file: Path = PrivateAttr(default=Path())

    channel: Name = Field(description="channel name, unique across files, e.g. his-adt")
    description: str = Field(default="", description="free text for people")
    enabled: bool = Field(default=True, description="false keeps the channel loaded but not running")
    source_system: str = Field(default=None, min_length=1, description="source system id; default the channel name")  # type: ignore[assignment]
    source: SourceSpec = Field(
        description="where messages come from; type: mllp, file, fhir-push, fhir-pull, xml-http, database, "
        "mpi-events, contract-events, service-events or task-events"
    )
    filter: MessageFilter | None = Field(default=None, description="message filter; accept all when absent")
    destinations: tuple[DestinationSpec, ...] = Field(default=(), description="where messages go")
    map: tuple[str, ...] | None = Field(
        default=None,
        description="mappings to FHIR, by name under mappings/ (e.g. hl7v2/adt); the first that takes a message "
        "maps it; absent: every mapping of the source's format is tried",
    )
    retention: Retention | None = Field(
        default=None, description="how long the journal keeps messages; forever when absent"
    )

    @field_validator("map", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _defaults_and_file(self, info: ValidationInfo) -> ChannelSpec:
        if self.source_system is None:
            object.__setattr__(self, "source_system", self.channel)
        context: dict[str, Any] = info.context or {}
        if "file" in context:
            self._file = Path(context["file"])
        return self

    @property
    def file(self) -> Path:
        """The channel file this spec was loaded from."""
        return self._file

    def destination(self, name: str) -> DestinationSpec:
        """The destination called ``name`` (KeyError when there is none)."""
        for dest in self.destinations:
            if dest.name == name:
                return dest
        raise KeyError(name)


class EngineConfig(_Spec):
    """Everything the engine needs to start: engine settings and every channel by name."""

    path: Path
    store: str
    channels_dir: Path
    mappings_dir: Path
    node: str
    logging: LoggingSpec = Field(default_factory=lambda: LoggingSpec())
    record: RecordSpec = Field(default_factory=lambda: RecordSpec())
    fhir_api: FhirApiSpec | None = None
    console: ConsoleSpec | None = None
    alerts: AlertsSpec | None = None
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    profiles: dict[Path, ObservationProfile] = Field(default_factory=dict, description="by file, as loaded")
    mpi_settings: Path | None = None
    bundle: InstanceOf[Bundle] = Field(description="everything compiled at load")

    @property
    def mappings(self) -> MappingSet:
        return self.bundle.mappings

    @property
    def mpi(self) -> Matcher:
        return self.bundle.mpi

    @property
    def rules(self) -> RuleSet:
        return self.bundle.rules

    @property
    def orgs(self) -> OrgTree | None:
        return self.bundle.orgs

    @property
    def contracts(self) -> ContractReader | None:
        return self.bundle.contracts

    @property
    def service_rules(self) -> ServiceRules | None:
        return self.bundle.service_rules
