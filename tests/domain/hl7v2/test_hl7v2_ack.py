"""build_ack / build_batch_ack: original-mode acknowledgements."""

from __future__ import annotations

from engine.domain.formats.hl7v2 import Problem, build_ack, build_batch_ack, read_header

RAW = b"MSH|^~\\&|HIS|HOSP|HUITONG|HUB|20250101||ADT^A04^ADT_A01|ORIG-1|P|2.5||||||UNICODE UTF-8\rPID|1\r"


def segments(ack: str) -> list[list[str]]:
    return [s.split("|") for s in ack.split("\r")]


def test_aa_ack_swaps_sender_and_receiver_and_echoes_the_control_id():
    ack = segments(build_ack(read_header(RAW), "AA", control_id="ACK-9", timestamp="20250101120000"))
    msh, msa = ack
    assert msh[2:6] == ["HUITONG", "HUB", "HIS", "HOSP"]
    assert (msh[6], msh[8], msh[9]) == ("20250101120000", "ACK^A04^ACK", "ACK-9")
    assert (msh[10], msh[11]) == ("P", "2.5")
    assert msh[17] == "UNICODE UTF-8"
    assert msa == ["MSA", "AA", "ORIG-1", ""]


def test_msh18_is_left_out_when_the_original_had_none():
    header = read_header(RAW.replace(b"UNICODE UTF-8", b""))
    assert len(segments(build_ack(header, "AA", control_id="A", timestamp="T"))[0]) == 12


def test_ae_ack_carries_one_err_per_problem():
    problems = [Problem(102, "OBX[2]-5", "OBX[2]-5 is not a valid NM"), Problem(101, "PID-3", "PID-3 empty")]
    ack = segments(build_ack(read_header(RAW), "AE", control_id="A", timestamp="T", problems=problems))
    assert [s[0] for s in ack] == ["MSH", "MSA", "ERR", "ERR"]
    assert ack[1][3] == "OBX[2]-5 is not a valid NM"
    err = ack[2]
    assert (err[2], err[3], err[4], err[8]) == ("OBX^2^5^1", "102^Data type error^HL70357", "E", err[8])
    assert ack[3][2:4] == ["PID^1^3^1", "101^Required field missing^HL70357"]


def test_ack_text_with_delimiters_is_escaped():
    ack = build_ack(read_header(RAW), "AE", control_id="A", timestamp="T", text="a|b^c")
    assert segments(ack)[1][3] == "a\\F\\b\\S\\c"


def test_ack_without_a_readable_header_has_a_minimal_msh_and_empty_msa2():
    problems = [Problem(100, "MSH", "no MSH")]
    ack = segments(build_ack(None, "AR", control_id="A", timestamp="T", problems=problems))
    assert ack[0][:12] == ["MSH", "^~\\&", "", "", "", "", "T", "", "ACK", "A", "P", "2.5"]
    assert ack[1][:3] == ["MSA", "AR", ""]
    assert ack[2][3] == "100^Segment sequence error^HL70357"


def test_versions_before_25_also_get_err1():
    header = read_header(RAW.replace(b"|2.5|", b"|2.4|"))
    ack = build_ack(header, "AE", control_id="A", timestamp="T", problems=[Problem(101, "PID-3", "x")])
    assert segments(ack)[2][1] == "PID^1^3^101&Required field missing&HL70357"


def test_ack_uses_the_original_delimiters():
    raw = b"MSH^~|\\&^A^B^C^D^2025^^ADT~A24^X1^T^2.4\r"
    ack = build_ack(read_header(raw), "AA", control_id="Z", timestamp="T")
    assert ack.startswith("MSH^~|\\&^C^D^A^B^T^^ACK~A24~ACK^Z^T^2.4\rMSA^AA^X1^")


def test_batch_ack_wraps_acks_in_bhs_and_bts_with_the_count():
    acks = [build_ack(read_header(RAW), "AA", control_id=str(i), timestamp="T") for i in range(2)]
    batch = build_batch_ack(acks, timestamp="T", control_id="B1").split("\r")
    assert batch[0] == "BHS|^~\\&|||||T||||B1"
    assert batch[-1] == "BTS|2"
    assert sum(1 for s in batch if s.startswith("MSH")) == 2
