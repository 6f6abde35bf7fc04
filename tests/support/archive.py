"""An HL7 v2 archive on disk, as a hospital hands one over: a tree of files, GB 18030 and UTF-8, batch files."""

from __future__ import annotations

from pathlib import Path

GIVEN = "伟芳敏静磊洋勇艳杰娟涛明超秀霞平刚桂英华"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    """A valid GB 11643 number of county 360426, born 1990-03-07, male (odd sequence digit)."""
    body = f"36042619900307{n % 100:02d}1"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]
    return body + check


def name(n: int) -> str:
    return f"张{GIVEN[n % len(GIVEN)]}"


def adt(n: int, charset: str) -> str:
    """ADT^A04 number `n` (control ID BF-<n>, visit V<n>) of an invented resident; MSH-18 is `charset`."""
    return "\r".join(
        [
            f"MSH|^~\\&|HIS|县人民医院|HUITONG|医共体平台|20250312093000||ADT^A04^ADT_A01|BF-{n:04d}|P|2.4||||||{charset}",
            "EVN|A04|20250312093000",
            f"PID|1||M{n:05d}^^^HIS^PI~{resident_id(n)}^^^CHN^NNCHN||{name(n)}^^^^^^L||19900307|M"
            f"|||幸福路{n}号^^抚州市^江西省^344000^CHN^H||1380000{n:04d}^PRN^CP",
            "PV1|1|O|内科门诊^^^县人民医院||||D001^李医生^^^^^^^^^^^^^^^^^^^^^^^^^医师|||MED|||||||||"
            f"V{n:05d}^^^HIS^VN|||||||||||||||||||||||||20250312093000",
        ]
    )


def gb18030_file(n: int) -> bytes:
    return adt(n, "GB 18030-2000").encode("gb18030")


def utf8_file(n: int) -> bytes:
    return adt(n, "UNICODE UTF-8").encode("utf-8")


def batch_file(numbers: list[int]) -> bytes:
    """FHS/BHS around UTF-8 messages, with the counts in BTS and FTS."""
    body = [adt(n, "UNICODE UTF-8") for n in numbers]
    lines = ["FHS|^~\\&|HIS|县人民医院", "BHS|^~\\&|HIS|县人民医院", *body, f"BTS|{len(body)}", "FTS|1"]
    return "\r".join(lines).encode("utf-8")


def mixed_tree(root: Path) -> list[int]:
    """Five files, seven messages (numbers returned), one malformed file in the middle, one file the glob skips."""
    (root / "2024" / "01").mkdir(parents=True)
    (root / "2024" / "02").mkdir(parents=True)
    (root / "2024" / "01" / "a.hl7").write_bytes(gb18030_file(1))
    (root / "2024" / "01" / "b.hl7").write_bytes(utf8_file(2))
    (root / "2024" / "02" / "batch.hl7").write_bytes(batch_file([3, 4, 5]))
    (root / "2024" / "02" / "broken.hl7").write_bytes(b"this is not an HL7 message\r\n")
    (root / "2024" / "02" / "c.hl7").write_bytes(adt(6, "").encode("gb18030"))  # no MSH-18: the source's encoding
    (root / "2024" / "02" / "d.hl7").write_bytes(gb18030_file(7))
    (root / "2024" / "readme.txt").write_text("not a message")
    return [1, 2, 3, 4, 5, 6, 7]


def flat_tree(root: Path, count: int) -> list[int]:
    """`count` files of one message each, alternating GB 18030 and UTF-8."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (root / f"m{n:04d}.hl7").write_bytes(gb18030_file(n) if n % 2 else utf8_file(n))
    return list(range(1, count + 1))
