"""engine.yaml ``alerts:``: the rules the daemon watches and where it sends what fires (docs/console.md, "Alerts").

Rules are data, one kind each (``kind:``); every rule names the channels (or destinations as ``channel/name``) it
watches, all of them when absent. Targets are where every alert goes: a webhook (DingTalk/WeCom robot JSON, or a
generic JSON object), a JSONL file, or e-mail over SMTP.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .values import Duration, Name, ResolvedPath

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _field_error(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("config_field", "{message}", {"field": field, "message": message})


class WorkingHours(_Spec):
    """When a channel is expected to send: silence counts only within these hours (local time)."""

    days: tuple[Day, ...] = Field(default=DAYS[:5], min_length=1, description="weekdays, e.g. [mon, tue, wed]")
    start: str = Field(default="08:00", description="HH:MM the working day begins")
    end: str = Field(default="18:00", description="HH:MM the working day ends")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is no time of day; write HH:MM, e.g. 08:00")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> WorkingHours:
        if self.end <= self.start:
            raise _field_error("end", f"end ({self.end}) must be after start ({self.start})")
        return self

    def minutes(self) -> tuple[int, int]:
        """start and end as minutes after midnight."""
        h1, m1 = self.start.split(":")
        h2, m2 = self.end.split(":")
        return int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)


class _Rule(_Spec):
    name: Name = Field(description="the alert's name, in its text and its state, e.g. his-silent")


class _ChannelRule(_Rule):
    channels: tuple[Name, ...] | None = Field(default=None, description="channels watched; all when absent")


class InactiveRule(_ChannelRule):
    """A channel that received nothing for ``after`` of working time."""

    kind: Literal["inactive"]
    after: Duration = Field(gt=0, description="working time without a message before it fires, e.g. 30m")


class ErrorRateRule(_ChannelRule):
    """A channel whose messages in the last ``window`` were refused (status ERROR) more often than ``over``."""

    kind: Literal["error_rate"]
    over: float = Field(gt=0, lt=1, description="share of messages in error, e.g. 0.05 for 5%")
    window: Duration = Field(default=900.0, gt=0, description="how far back to look, e.g. 15m")
    min_messages: int = Field(default=10, ge=1, description="fewer messages in the window than this: no alert")


class QueueRule(_Rule):
    """A destination with too many deliveries waiting, or one waiting too long."""

    kind: Literal["queue"]
    destinations: tuple[Annotated[str, Field(pattern=r"^[^/]+/[^/]+$")], ...] | None = Field(
        default=None, description="channel/destination pairs, e.g. his/record; all when absent"
    )
    depth_over: int | None = Field(default=None, ge=0, description="deliveries waiting, e.g. 1000")
    oldest_over: Duration | None = Field(default=None, gt=0, description="age of the oldest waiting, e.g. 10m")

    @model_validator(mode="after")
    def _a_limit(self) -> QueueRule:
        if self.depth_over is None and self.oldest_over is None:
            raise _field_error("depth_over", "a queue rule needs depth_over, oldest_over or both")
        return self


class DeadLetterRule(_Rule):
    """A destination with dead letters (deliveries DEAD, waiting for an operator)."""

    kind: Literal["dead_letters"]
    destinations: tuple[Annotated[str, Field(pattern=r"^[^/]+/[^/]+$")], ...] | None = Field(
        default=None, description="channel/destination pairs, e.g. his/record; all when absent"
    )
    over: int = Field(default=0, ge=0, description="dead letters tolerated, 0: any fires")


class CertificateRule(_Rule):
    """A TLS certificate of the configuration (listeners, destinations, console, FHIR API) close to expiry."""

    kind: Literal["certificate"]
    within: Duration = Field(default=30 * 86400.0, gt=0, description="how long before expiry it fires, e.g. 30d")


class DiskRule(_Rule):
    """The store's volume (the SQLite file's folder, or ``path``) running out of space."""

    kind: Literal["disk"]
    free_under: float = Field(gt=0, lt=100, description="percent of the volume free below which it fires, e.g. 10")
    path: ResolvedPath | None = Field(default=None, description="a folder on the volume; default the SQLite store's")


Rule = Annotated[
    InactiveRule | ErrorRateRule | QueueRule | DeadLetterRule | CertificateRule | DiskRule,
    Field(discriminator="kind"),
]


class WebhookTarget(_Spec):
    """POST each alert as JSON: ``robot`` is the DingTalk/WeCom robot's text message, ``json`` a plain object."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="e.g. https://oapi.dingtalk.com/robot/send?access_token=...")
    format: Literal["robot", "json"] = Field(default="robot", description="robot: {msgtype: text, ...}; json")
    timeout: Duration = Field(default=10.0, gt=0, description="how long one POST may take")


class FileTarget(_Spec):
    """Append each alert as one JSON line."""

    type: Literal["file"]
    path: ResolvedPath = Field(description="the JSONL file, e.g. ../var/alerts.jsonl")


class EmailTarget(_Spec):
    """Mail each alert over SMTP."""

    type: Literal["email"]
    host: str = Field(min_length=1, description="SMTP server, e.g. smtp.county.gov.cn")
    port: int = Field(default=25, gt=0, lt=65536, description="SMTP port")
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="From: address")
    to: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")], ...] = Field(min_length=1, description="To:")
    starttls: bool = Field(default=False, description="upgrade the connection with STARTTLS")
    username: str | None = Field(default=None, description="SMTP login, with password")
    password: str | None = Field(default=None, description="SMTP password (use ${VAR})")
    timeout: Duration = Field(default=10.0, gt=0, description="how long one mail may take")


Target = Annotated[WebhookTarget | FileTarget | EmailTarget, Field(discriminator="type")]


class AlertsSpec(_Spec):
    every: Duration = Field(default=30.0, ge=1, le=600, description="how often the rules are looked at, e.g. 30s")
    working_hours: WorkingHours = Field(default_factory=WorkingHours, description="when channels are expected")
    send: tuple[Target, ...] = Field(description="where every alert goes")
    rules: tuple[Rule, ...] = Field(description="what to watch")

    @model_validator(mode="after")
    def _complete(self) -> AlertsSpec:
        if not self.send:
            raise _field_error("send", "alerts need somewhere to go: a webhook, file or email under send:")
        if not self.rules:
            raise _field_error("rules", "alerts need at least one rule under rules:")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise _field_error("rules", f"rules[{i}]: the name {rule.name!r} is used twice; names must differ")
            seen.add(rule.name)
        return self
