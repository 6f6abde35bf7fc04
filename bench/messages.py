"""Realistic Chinese HIS traffic for benchmarks: ADT^A01 of ~1.5 KB in GB 18030 with MSH-18 empty.

The shape follows the shared perf baselines' test ADT (MSH EVN PID NK1 PV1, 3 OBX, 3 AL1, 3 DG1); names,
addresses and diagnoses are Chinese, the resident ID has a valid GB 11643 check digit. All fictional.
"""

from __future__ import annotations

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英")


def resident_id(n: int) -> str:
    body = f"110101{1950 + n % 60:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def adt_a01(n: int, *, charset: str = "gb18030", visit: int | None = None) -> bytes:
    """Resident ``n``'s admission; ``visit`` (default ``n``) numbers the message and the visit, so the same
    resident can come back."""
    v = n if visit is None else visit
    name = _FAMILY[n % len(_FAMILY)] + _GIVEN[n % len(_GIVEN)]
    rid = resident_id(n)
    segments = [
        f"MSH|^~\\&|HIS|县人民医院|HUITONG|医共体平台|20260312093000||ADT^A01^ADT_A01|BENCH{v:08d}|P|2.4",
        "EVN|A01|20260312093000",
        f"PID|1||{n % 50000:07d}^^^HIS^PI~{rid}^^^CHN^NNCHN||{name}^^^^^^L||{rid[6:14]}|{'MF'[n % 2]}|||"
        f"幸福路{n % 300}号^^城关镇^某县^100010^CHN^H||1380000{n % 10000:04d}^PRN^CP|||M||V{v:08d}",
        f"NK1|1|{_FAMILY[(n + 3) % len(_FAMILY)]}秀兰^^^^^^L|SPO^配偶^HL70063||1390000{n % 10000:04d}^PRN^CP",
        f"PV1|1|I|内科病区^0{n % 9}^0{n % 4}^县人民医院||||D{n % 40:03d}^李医生^^^^^^^^^^^^^^^^^^^^^^^^^医师"
        f"|||MED||||1|||D{n % 40:03d}^李医生||V{v:08d}^^^HIS^VN|||||||||||||||||||||||||20260312093000",
        "OBX|1|NM|8480-6^收缩压^LN||138|mm[Hg]^mmHg^UCUM|90-140|N|||F|||20260312093000",
        "OBX|2|NM|8462-4^舒张压^LN||86|mm[Hg]^mmHg^UCUM|60-90|N|||F|||20260312093000",
        "OBX|3|NM|2345-7^空腹血糖^LN||6.8|mmol/L^mmol/L^UCUM|3.9-6.1|H|||F|||20260312093000",
        "OBX|4|NM|8867-4^心率^LN||78|/min^次/分^UCUM|60-100|N|||F|||20260312093000",
        "OBX|5|NM|29463-7^体重^LN||68.5|kg^千克^UCUM||N|||F|||20260312093000",
        "OBX|6|ST|72166-2^吸烟状况^LN||已戒烟十年以上||||||F|||20260312093000",
        "AL1|1|DA|Z88.0^青霉素过敏^ICD10|SV|皮疹",
        "AL1|2|FA|F001^海鲜^L|MO|荨麻疹",
        "AL1|3|DA|Z88.1^头孢类过敏^ICD10|MI|瘙痒",
        "DG1|1|ICD10|I10.x00^原发性高血压^ICD10||20260312093000|A",
        "DG1|2|ICD10|E11.900^2型糖尿病不伴并发症^ICD10||20260312093000|A",
        "DG1|3|ICD10|J18.900^肺炎^ICD10||20260312093000|W",
        f"IN1|1|310^城乡居民基本医疗保险^HL70072|YB{n:010d}|某县医疗保障局||||||||20260101|20261231|||SEL^本人",
    ]
    return ("\r".join(segments) + "\r").encode(charset)


def adt_a04(n: int, *, charset: str = "gb18030", visit: int | None = None) -> bytes:
    """An outpatient registration, as most HIS ADT traffic is: MSH EVN PID NK1 PV1.

    Maps to Patient, Encounter and RelatedPerson; ``visit`` (default ``n``) as for adt_a01."""
    v = n if visit is None else visit
    name = _FAMILY[n % len(_FAMILY)] + _GIVEN[n % len(_GIVEN)]
    rid = resident_id(n)
    segments = [
        f"MSH|^~\\&|HIS|县人民医院|HUITONG|医共体平台|20260312093000||ADT^A04^ADT_A01|REG{v:08d}|P|2.4",
        "EVN|A04|20260312093000",
        f"PID|1||{n % 50000:07d}^^^HIS^PI~{rid}^^^CHN^NNCHN||{name}^^^^^^L||{rid[6:14]}|{'MF'[n % 2]}|||"
        f"幸福路{n % 300}号^^城关镇^某县^100010^CHN^H||1380000{n % 10000:04d}^PRN^CP",
        f"NK1|1|{_FAMILY[(n + 3) % len(_FAMILY)]}秀兰^^^^^^L|SPO^配偶^HL70063||1390000{n % 10000:04d}^PRN^CP",
        f"PV1|1|O|内科门诊^^^县人民医院||||D{n % 40:03d}^李医生^^^^^^^^^^^^^^^^^^^^^^^^^医师"
        f"|||MED|||||||||R{v:08d}^^^HIS^VN|||||||||||||||||||||||||20260312093000",
    ]
    return ("\r".join(segments) + "\r").encode(charset)
