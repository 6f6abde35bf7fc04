"""One schema for every channel: journal, content per stage, outbox, audit, unified health record.

Times are epoch seconds (UTC) in double columns so SQLite and PostgreSQL store and compare them the same
way; the CLI formats them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite only gives an auto-incrementing rowid to "INTEGER PRIMARY KEY"; PostgreSQL wants BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("source", String(255), nullable=False, doc="peer address or file the message came from"),
    Column("received_at", Double, nullable=False),
    Column("message_type", String(32), nullable=False, default=""),
    Column("control_id", String(64), nullable=False, default=""),
    Column("content_hash", String(32), nullable=False),
    Column("charset", String(32)),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("duplicate_of", Id),
    Column("processed_at", Double),
    Column("node", String(64), doc="the engine process that journaled it; it processes it after a restart"),
)
# Each index is one more page written (and synced) per message on the intake path, so there are few, and the
# one the sweep needs only holds the rare RECEIVED rows.
_received = messages.c.status == "RECEIVED"
Index("ix_messages_received", messages.c.id, sqlite_where=_received, postgresql_where=_received)
Index("ix_messages_channel_received_at", messages.c.channel, messages.c.received_at)
# The console's per-channel totals (queries.stats) on every dashboard load: counted from this index, a scan of a few
# bytes a message instead of its 1-2 KB row (docs/benchmarks.md, console).
Index("ix_messages_channel_status", messages.c.channel, messages.c.status)

# The first message with a given (channel, control id, content hash) owns the key; later ones are duplicates.
message_keys = Table(
    "message_keys",
    metadata,
    # Control IDs mostly grow, so new keys land on the same few pages: fewer pages to sync per commit than
    # if the random hash came first.
    Column("channel", String(64), primary_key=True),
    Column("control_id", String(64), primary_key=True),
    Column("content_hash", String(32), primary_key=True),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False),
    sqlite_with_rowid=False,
)

content = Table(
    "content",
    metadata,
    Column("message_id", Id, ForeignKey("messages.id"), primary_key=True),
    Column("stage", String(32), primary_key=True, doc="ack, or sent:<destination> / response:<destination>"),
    Column("body", LargeBinary, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Double, nullable=False),
    Column("order_key", String(128)),
    Column("lease_until", Double),
    Column("leased_by", String(64)),
    Column("last_error", Text),
    Column("response", LargeBinary),
    Column("created_at", Double, nullable=False),
    Column("sent_at", Double),
    UniqueConstraint("message_id", "destination", name="uq_outbox_message_destination"),
)
Index("ix_outbox_due", outbox.c.channel, outbox.c.destination, outbox.c.status, outbox.c.next_attempt_at)
_ordered = outbox.c.order_key.is_not(None)
Index(
    "ix_outbox_order",
    outbox.c.channel,
    outbox.c.destination,
    outbox.c.order_key,
    outbox.c.id,
    sqlite_where=_ordered,
    postgresql_where=_ordered,
)
# Each person's pending rows in order: an ordered claim finds a person's run of due rows without walking the rows
# already sent.
_pending_ordered = text("order_key IS NOT NULL AND status IN ('QUEUED', 'ERROR')")
Index(
    "ix_outbox_pending_order",
    outbox.c.channel,
    outbox.c.destination,
    outbox.c.order_key,
    outbox.c.id,
    sqlite_where=_pending_ordered,
    postgresql_where=_pending_ordered,
)

audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("detail", Text),
)
Index("ix_audit_at", audit.c.at)
Index("ix_audit_target", audit.c.target, audit.c.at)  # a resident's trail (huitong audit --patient, AuditEvent)
Index("ix_audit_actor", audit.c.actor, audit.c.at)  # what one reader did

# What a polling source has read so far (a FHIR search watermark per resource type, the last response's hash),
# written in the transaction that journals what it read, so a restart resumes exactly there.
source_state = Table(
    "source_state",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

# Live intake's heartbeat (engine/store/live_intake.py): per node, when its intake last journaled messages from
# live senders and how many came in one commit. Bulk writers read it to give live traffic the store first.
live_intake = Table(
    "live_intake",
    metadata,
    Column("node", String(128), primary_key=True),
    Column("seen_at", Double, nullable=False),
    Column("queued", Integer, nullable=False),
)

# --- unified health record ---------------------------------------------------------------------------------
# Ids of persons and resources are uuid4 hex: made without a round trip, and never reused across stores.
RecordId = String(32)

record_persons = Table(
    "record_persons",
    metadata,
    Column("id", RecordId, primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("merged_into", RecordId, doc="set when a merge retired this person; its rows now belong to that one"),
)
# Who was merged into these persons (record.merged_persons_of, for every batch the record process writes): without
# it each lookup scans every person on file. Only retired persons have a merged_into, so the index stays small.
_retired = record_persons.c.merged_into.is_not(None)
Index("ix_record_persons_merged_into", record_persons.c.merged_into, sqlite_where=_retired, postgresql_where=_retired)

# Resolution looks identifiers up by value first (many systems, few values each), so value leads the key.
record_identifiers = Table(
    "record_identifiers",
    metadata,
    Column("value", String(128), primary_key=True),
    Column("system", String(255), primary_key=True),
    Column("person_id", RecordId, nullable=False),
    Column("source_system", String(64), nullable=False, doc="the first source that sent it"),
    Column("created_at", Double, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_record_identifiers_person", record_identifiers.c.person_id)

record_resources = Table(
    "record_resources",
    metadata,
    Column("id", RecordId, primary_key=True),
    Column("person_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("source_system", String(64), nullable=False, doc="the source that owns it: its updates make versions"),
    Column("source_key", String(255), nullable=False, doc="the source's own key for the fact; '' when none"),
    Column("digest", String(32), nullable=False, doc="facts.fact_digest of the current version"),
    Column("version", Integer, nullable=False),
    Column("updated_at", Double, nullable=False),
)
Index("ix_record_resources_person_type", record_resources.c.person_id, record_resources.c.type)
Index("ix_record_resources_person_digest", record_resources.c.person_id, record_resources.c.digest)
_keyed = record_resources.c.source_key != ""
Index(
    "ix_record_resources_key",
    record_resources.c.source_key,
    sqlite_where=_keyed,
    postgresql_where=_keyed,
)

record_versions = Table(
    "record_versions",
    metadata,
    Column("resource_id", RecordId, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False, doc="FHIR JSON with store ids"),
    Column("source_system", String(64), nullable=False),
    Column("message_id", Id, doc="journal id of the message that said it"),
    Column("channel", String(64), nullable=False),
    Column("mapping", String(128), nullable=False),
    Column("mapping_version", String(64), nullable=False),
    Column("at", Double, nullable=False),
)

# A further source that stated a resource's fact identically: provenance without a second copy.
record_links = Table(
    "record_links",
    metadata,
    Column("resource_id", RecordId, primary_key=True),
    Column("source_system", String(64), primary_key=True),
    Column("source_key", String(255), primary_key=True),
    Column("message_id", Id),
    Column("channel", String(64), nullable=False),
    Column("mapping", String(128), nullable=False),
    Column("mapping_version", String(64), nullable=False),
    Column("at", Double, nullable=False),
)
Index("ix_record_links_key", record_links.c.source_key)

# What each merge moved, so that an unmerge can move exactly that back.
record_merges = Table(
    "record_merges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("surviving", RecordId, nullable=False),
    Column("retired", RecordId, nullable=False),
    Column("message_id", Id),
    Column("identifiers", Text, nullable=False, doc="JSON [[system, value], ...] moved to the survivor"),
    Column("resources", Text, nullable=False, doc="JSON [resource id, ...] moved to the survivor"),
    Column("records", Text, nullable=False, server_default="[]", doc="JSON [MPI record id, ...] moved"),
    Column("undone_at", Double, doc="set when an unmerge moved it all back"),
)

# --- master patient index ----------------------------------------------------------------------------------
# One row per patient record of one source (its own local id): the unit the MPI links to a person.
mpi_records = Table(
    "mpi_records",
    metadata,
    Column("id", RecordId, primary_key=True),
    Column("source_system", String(64), nullable=False),
    Column("local_id", String(255), nullable=False, doc="the source's own key for the patient (its MRN)"),
    Column("person_id", RecordId, nullable=False),
    Column("state", String(16), nullable=False, doc="NEW (first of its person), MATCH (linked), REVIEW"),
    Column("link_source", String(8), nullable=False, doc="AUTO or MANUAL: re-matching never moves MANUAL"),
    Column("probability", Double, doc="of the link that placed it; NULL for a new person"),
    Column("rule", String(64), nullable=False, doc="what decided: an identity rule, the model, an operator"),
    Column("features", Text, nullable=False, doc="JSON of the normalised features it is compared on"),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("source_system", "local_id", name="uq_mpi_records_local"),
)
Index("ix_mpi_records_person", mpi_records.c.person_id)

# Blocking keys ("<rule>:<key>") of every record: candidates are the records sharing a key.
mpi_blocks = Table(
    "mpi_blocks",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("record_id", RecordId, primary_key=True),
    sqlite_with_rowid=False,
)
Index("ix_mpi_blocks_record", mpi_blocks.c.record_id)

# How many records hold each value of a term-frequency column (field "*" counts all records).
mpi_terms = Table(
    "mpi_terms",
    metadata,
    Column("field", String(32), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("count", Integer, nullable=False),
    sqlite_with_rowid=False,
)

mpi_reviews = Table(
    "mpi_reviews",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", RecordId, nullable=False),
    Column("candidate", RecordId, nullable=False, doc="the person the record may be"),
    Column("probability", Double, nullable=False),
    Column("status", String(16), nullable=False, doc="open, accepted, rejected or void (decided elsewhere)"),
    Column("created_at", Double, nullable=False),
    Column("decided_at", Double),
    Column("decided_by", String(64)),
    Column("reason", Text),
)
Index("ix_mpi_reviews_status", mpi_reviews.c.status)
Index("ix_mpi_reviews_record", mpi_reviews.c.record_id)

# An operator's word on a record and a person; automatic matching never overrides it.
mpi_decisions = Table(
    "mpi_decisions",
    metadata,
    Column("record_id", RecordId, primary_key=True),
    Column("person_id", RecordId, primary_key=True),
    Column("same", Integer, nullable=False, doc="1: the same person; 0: never the same"),
    Column("actor", String(64), nullable=False),
    Column("at", Double, nullable=False),
    Column("reason", Text),
)

# -- family-doctor contracts and care tasks ----------------------------------------------------------------

contracts = Table(
    "contracts",
    metadata,
    Column("source_system", String(64), primary_key=True),
    Column("contract_id", String(64), primary_key=True),
    Column("person_id", RecordId, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("snapshot", Text, nullable=False, doc="the contract as JSON (engine/domain/contract/snapshot.py)"),
    Column("updated_at", Double, nullable=False),
)
Index("ix_contracts_person", contracts.c.person_id)

care_tasks = Table(
    "care_tasks",
    metadata,
    Column("id", String(64), primary_key=True, doc="the task's stable id (engine/domain/care/tasks.py)"),
    Column("person_id", RecordId, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("label", String(64), nullable=False),
    Column("start", String(10), nullable=False),
    Column("end", String(10), nullable=False),
    Column("state", String(16), nullable=False),
    Column("task", Text, nullable=False, doc="the task as JSON, with its evidence"),
    Column("updated_at", Double, nullable=False),
)
Index("ix_care_tasks_person", care_tasks.c.person_id)
Index("ix_care_tasks_state", care_tasks.c.state)

# --- FHIR search index (engine/domain/fhir_search.py): the current version's parameters, one table per type ---
fhir_search_token = Table(
    "fhir_search_token",
    metadata,
    Column("resource_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255), nullable=False, doc="'' when the value has none"),
    Column("value", String(255), nullable=False),
)
Index("ix_fhir_search_token_value", *(fhir_search_token.c[n] for n in ("type", "param", "value", "system")))
Index("ix_fhir_search_token_resource", fhir_search_token.c.resource_id)

fhir_search_string = Table(
    "fhir_search_string",
    metadata,
    Column("resource_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("value_normalised", String(255), nullable=False, doc="fhir_search.name_forms: written form, pinyin"),
)
Index("ix_fhir_search_string_value", *(fhir_search_string.c[n] for n in ("type", "param", "value_normalised")))
Index("ix_fhir_search_string_resource", fhir_search_string.c.resource_id)

fhir_search_date = Table(
    "fhir_search_date",
    metadata,
    Column("resource_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("low", String(19), nullable=False, doc="YYYY-MM-DDTHH:MM:SS: the first instant covered"),
    Column("high", String(19), nullable=False, doc="the last instant covered"),
)
Index("ix_fhir_search_date_range", *(fhir_search_date.c[n] for n in ("type", "param", "low", "high")))
Index("ix_fhir_search_date_resource", fhir_search_date.c.resource_id)

fhir_search_quantity = Table(
    "fhir_search_quantity",
    metadata,
    Column("resource_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255), nullable=False, doc="'' when the quantity has none"),
    Column("code", String(255), nullable=False, doc="the unit's code, else its text; '' when neither"),
    Column("value", Double, nullable=False),
)
Index("ix_fhir_search_quantity_value", *(fhir_search_quantity.c[n] for n in ("type", "param", "value")))
Index("ix_fhir_search_quantity_resource", fhir_search_quantity.c.resource_id)

fhir_search_reference = Table(
    "fhir_search_reference",
    metadata,
    Column("resource_id", RecordId, nullable=False),
    Column("type", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("target", String(255), nullable=False, doc="Type/id as the record stores it"),
)
Index("ix_fhir_search_reference_target", *(fhir_search_reference.c[n] for n in ("target", "type", "param")))
Index("ix_fhir_search_reference_resource", fhir_search_reference.c.resource_id)
Index("ix_record_resources_type_updated", record_resources.c.type, record_resources.c.updated_at)

# Bearer tokens of the FHIR API (engine/store/tokens.py): the sha256 of the secret, never the secret.
fhir_tokens = Table(
    "fhir_tokens",
    metadata,
    Column("id", String(32), primary_key=True, doc="named in the audit trail as the reader"),
    Column("hash", String(64), nullable=False, unique=True),
    Column("scopes", Text, nullable=False, doc="space-separated SMART scopes"),
    Column("patient", RecordId, doc="the person a patient/ scope reads; NULL for system/ scopes"),
    Column("user_name", String(48), doc="the named user a user/ scope reads as; NULL for other scopes"),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("revoked_at", Double, doc="set by huitong tokens revoke: the token is refused from then on"),
)

# FHIR Bulk Data export jobs (engine/store/bulk_exports.py); their NDJSON files are under fhir_api.export_dir.
fhir_exports = Table(
    "fhir_exports",
    metadata,
    Column("id", String(32), primary_key=True, doc="the job id in the status and file URLs"),
    Column("token_id", String(32), nullable=False, doc="the token that asked for it"),
    Column("level", String(16), nullable=False, doc="system, patient or group"),
    Column("group_id", String(64), doc="the Group exported (level group)"),
    Column("request", Text, nullable=False, doc="the kick-off URL, for the manifest"),
    Column("types", Text, nullable=False, doc="JSON list of the resource types exported"),
    Column("since", Double, doc="_since: only versions recorded after it"),
    Column("transaction_time", Double, nullable=False, doc="the versions exported are those current at this time"),
    Column("status", String(16), nullable=False, doc="accepted, running, completed or failed"),
    Column("progress", Text, nullable=False, doc="X-Progress while running"),
    Column("output", Text, nullable=False, doc="JSON list of the files written: type, name, count"),
    Column("error", Text, doc="why the job failed"),
    Column("expires_at", Double, doc="when a finished job and its files are removed"),
)
Index("ix_fhir_exports_status", fhir_exports.c.status)

# Alerts that fired and have not cleared (engine/runtime/alerts.py): one row per rule and subject, so each fires once
# and clears once, across restarts and nodes.
alerts = Table(
    "alerts",
    metadata,
    Column("key", String(256), primary_key=True, doc="rule|subject"),
    Column("rule", String(64), nullable=False),
    Column("fired_at", Double, nullable=False),
    Column("text", Text, nullable=False, doc="what was sent when it fired (no personal data)"),
)

# People who sign in to the console (engine/store/users.py, `huitong users`): a password's argon2 hash, never the
# password; roles as in engine/domain/roles.py.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(48), primary_key=True),
    Column("password_hash", Text, nullable=False, doc="argon2id hash with its own salt and parameters"),
    Column("roles", Text, nullable=False, doc="space-separated roles: viewer, operator, admin, clinical"),
    Column("disabled_at", Double, doc="set by huitong users disable: sign-in refused and sessions ended"),
    Column("failed_logins", Integer, nullable=False, doc="wrong passwords since the last sign-in"),
    Column("created_at", Double, nullable=False),
    Column("changed_at", Double, nullable=False),
)

# Console sign-in sessions (engine/store/sessions.py): the cookie's sha256, never the cookie itself.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_name", String(48), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)
Index("ix_console_sessions_user", console_sessions.c.user_name)
