"""Configuration: engine.yaml and channel files → typed, validated specs.

Every problem comes back as a :class:`ConfigError` that prints as
``file:line:column: field: message``; nothing starts until there are none.

    result = load_config("config/engine.yaml")
    for error in result.errors:
        print(error)
"""

from .errors import ConfigError, ConfigInvalid
from .loader import LoadResult, channel_files, load_config, load_config_or_raise, load_engine_settings
from .models import (
    EVENT_SOURCES,
    ChannelSpec,
    ConsoleSpec,
    ContractDestination,
    ContractEventsSource,
    DestinationSpec,
    DestinationTLS,
    EngineConfig,
    FhirApiSpec,
    FhirDestination,
    FhirPullSource,
    FhirPushSource,
    FileDestination,
    FileSource,
    HttpDestination,
    LoggingSpec,
    MessageFilter,
    MllpDestination,
    MllpSource,
    MpiEventsSource,
    ObservationProfile,
    ObservationRule,
    RecordDestination,
    RecordSpec,
    RetryPolicy,
    ServiceEventsSource,
    SourceSpec,
    SourceTLS,
    TaskEventsSource,
    XmlHttpSource,
)
from .values import FILENAME_PLACEHOLDERS, HostPort, parse_duration, parse_host_port

__all__ = [
    "EVENT_SOURCES",
    "FILENAME_PLACEHOLDERS",
    "ChannelSpec",
    "ConfigError",
    "ConfigInvalid",
    "ConsoleSpec",
    "ContractDestination",
    "ContractEventsSource",
    "DestinationSpec",
    "DestinationTLS",
    "EngineConfig",
    "FhirApiSpec",
    "FhirDestination",
    "FhirPullSource",
    "FhirPushSource",
    "FileDestination",
    "FileSource",
    "HostPort",
    "HttpDestination",
    "LoadResult",
    "LoggingSpec",
    "MessageFilter",
    "MllpDestination",
    "MllpSource",
    "MpiEventsSource",
    "ObservationProfile",
    "ObservationRule",
    "RecordDestination",
    "RecordSpec",
    "RetryPolicy",
    "ServiceEventsSource",
    "SourceSpec",
    "SourceTLS",
    "TaskEventsSource",
    "XmlHttpSource",
    "channel_files",
    "load_config",
    "load_config_or_raise",
    "load_engine_settings",
    "parse_duration",
    "parse_host_port",
]
