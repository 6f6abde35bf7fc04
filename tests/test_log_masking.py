"""No personal data in any log line the whole test run wrote (daemons and in-process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.domain.masking import mask_text
from tests.support.corpus import SAMPLES, files


def people_in(raw: bytes) -> set[str]:
    """Names (PID-5, NK1-2), ID numbers and phones of every person segment in a message file."""
    text = ""
    for charset in ("utf-8", "gb18030"):
        try:
            text = raw.decode(charset)
            break
        except UnicodeDecodeError:
            continue
    found: set[str] = set()
    for segment in re.split(r"[\r\n]+", text):
        fields = segment.split("|")
        if fields[0] == "PID" and len(fields) > 5:
            found.update(p for p in re.split(r"[\^~]", fields[5]) if len(p) >= 4 and not p.isdigit())
            found.update(re.findall(r"\b\d{17}[\dX]\b|\b1[3-9]\d{9}\b", segment))
        if fields[0] == "NK1" and len(fields) > 2:
            found.update(p for p in re.split(r"[\^~]", fields[2]) if len(p) >= 4)
    return found


def test_masking_removes_ids_phones_names_and_person_segments() -> None:
    line = "ADT^A01 phone 13800138000 DOE^JOHN bad PID|1||110101199003077777^^^CHN^NNCHN||张三^^ZHANG SAN||"
    masked = mask_text(line)
    for secret in ("110101199003077777", "张三", "13800138000", "DOE^JOHN", "ZHANG SAN"):
        assert secret not in masked
    assert "ADT^A01" in masked


@pytest.mark.after_everything
def test_no_log_line_of_the_run_contains_personal_data(log_dir: Path) -> None:
    secrets: set[str] = set()
    for item in files("hl7v2-er7"):
        secrets |= people_in(item.path.read_bytes())
    for sample in (SAMPLES / "hl7v2").glob("*.hl7"):
        secrets |= people_in(sample.read_bytes())
    logs = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in log_dir.glob("*.jsonl")}
    assert logs, "the run wrote no logs to check"
    leaks = [(name, s) for name, text in logs.items() for s in secrets if s in text]
    assert not leaks, leaks[:10]
