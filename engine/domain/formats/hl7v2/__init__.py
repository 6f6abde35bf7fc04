"""HL7 v2 wire format: pure functions over bytes and text, no I/O, no clock.

split_messages(data) -> [raw, ...]       one frame or file -> message slices   (wire)
inspect(raw, default_charset=...)        header, charset, text, ACK code       (inspect)
build_ack(header, code, ...)             original-mode ACK text                (ack)
Message(text, header).get("PID-3.1")     lazy value access                     (message)
validate(message, "basic" | "strict")    table 0357 problems                   (validate)
"""

from .ack import AckSummary, build_ack, build_batch_ack, escape, read_ack
from .errors import BatchError, HeaderError, HL7Error, UnknownCharset
from .header import KNOWN_VERSIONS, Header, read_header
from .inspect import Inspection, inspect
from .message import Message, Segment, unescape
from .profile import ObservationRule, Rules, check_observations
from .validate import ERROR_CODES, Problem, validate
from .wire import canonical, charset_for, message_charset, split_messages

__all__ = [
    "ERROR_CODES",
    "KNOWN_VERSIONS",
    "AckSummary",
    "BatchError",
    "HL7Error",
    "Header",
    "HeaderError",
    "Inspection",
    "Message",
    "ObservationRule",
    "Problem",
    "Rules",
    "Segment",
    "UnknownCharset",
    "build_ack",
    "build_batch_ack",
    "canonical",
    "charset_for",
    "check_observations",
    "escape",
    "inspect",
    "message_charset",
    "read_ack",
    "read_header",
    "split_messages",
    "unescape",
    "validate",
]
