"""The people pages' words in Chinese (the default) and English; ``?lang=en`` or ``?lang=zh`` chooses, and a cookie
remembers the choice."""

from __future__ import annotations

from aiohttp import web

LANGUAGES = ("zh", "en")
COOKIE = "lang"

TEXT: dict[str, tuple[str, str]] = {
    "console": ("汇通运维控制台", "Huitong console"),
    "nav.reviews": ("患者主索引审核", "MPI review"),
    "nav.resident": ("居民健康档案", "Resident record"),
    "nav.indicators": ("指标", "Indicators"),
    "nav.audit": ("审计日志", "Audit log"),
    "reviews.title": ("待审核的匹配", "Matches to review"),
    "reviews.none": ("没有待审核的匹配", "No open reviews"),
    "review.title": ("匹配审核", "Match review"),
    "review.record": ("新到记录", "Arriving record"),
    "review.candidate": ("候选居民", "Candidate person"),
    "review.waterfall": ("匹配权重瀑布图", "Match weight waterfall"),
    "review.prior": ("先验", "prior"),
    "review.total": ("合计", "total"),
    "review.reason": ("理由", "Reason"),
    "review.accept": ("接受：是同一人", "Accept: the same person"),
    "review.reject": ("拒绝：不是同一人", "Reject: not the same person"),
    "review.accepted": ("已接受，记录已并入居民", "Accepted: the record is now person"),
    "review.rejected": ("已拒绝", "Rejected"),
    "review.grade": ("等级", "Grade"),
    "review.probability": ("概率", "Probability"),
    "review.weight": ("权重", "Weight"),
    "review.level": ("比较结果", "Level"),
    "review.comparison": ("比较项", "Comparison"),
    "review.rule": ("规则", "Rule"),
    "review.thresholds": ("阈值", "Thresholds"),
    "col.id": ("编号", "ID"),
    "col.status": ("状态", "Status"),
    "col.source": ("来源系统", "Source system"),
    "col.record": ("记录", "Record"),
    "col.candidate": ("候选居民", "Candidate"),
    "col.created": ("创建时间", "Created"),
    "col.date": ("日期", "Date"),
    "col.section": ("类别", "Section"),
    "col.summary": ("内容", "Summary"),
    "col.value": ("值", "Value"),
    "col.field": ("项目", "Field"),
    "col.sources": ("来源", "Sources"),
    "field.name": ("姓名", "Name"),
    "field.sex": ("性别", "Sex"),
    "field.dob": ("出生日期", "Birth date"),
    "field.id_raw": ("身份证号", "Resident ID"),
    "field.phone": ("电话", "Phone"),
    "field.address": ("地址", "Address"),
    "resident.search": ("身份证号、居民编号或 系统|编号", "Resident ID, person id or system|value"),
    "resident.open": ("打开档案", "Open record"),
    "resident.demographics": ("基本信息", "Demographics"),
    "resident.timeline": ("健康记录（按时间）", "Health record (in time order)"),
    "resident.contracts": ("家庭医生签约", "Family-doctor contracts"),
    "resident.tasks": ("随访任务", "Care tasks"),
    "resident.none": ("无", "None"),
    "resident.merged": ("已合并的居民编号", "Merged from"),
    "contract.id": ("签约编号", "Contract"),
    "contract.team": ("团队", "Team"),
    "contract.doctor": ("家庭医生", "Doctor"),
    "contract.period": ("有效期", "Period"),
    "contract.packages": ("服务包", "Packages"),
    "task.name": ("任务", "Task"),
    "task.window": ("时间窗", "Window"),
    "task.done": ("完成依据", "Done by"),
    "indicators.title": ("家庭医生与公共卫生指标", "Family-doctor and public-health indicators"),
    "indicators.period": ("统计期", "Period"),
    "indicators.org": ("机构编码", "Institution code"),
    "indicators.team": ("团队编号", "Team id"),
    "indicators.show": ("查询", "Show"),
    "indicators.indicator": ("指标", "Indicator"),
    "indicators.unit": ("机构/团队", "Institution/team"),
    "indicators.numerator": ("分子", "Numerator"),
    "indicators.denominator": ("分母", "Denominator"),
    "indicators.rate": ("比率", "Rate"),
    "indicators.chart": ("各机构与团队的比率", "Rate by institution and team"),
    "audit.title": ("审计日志", "Audit log"),
    "audit.at": ("时间", "Time"),
    "audit.actor": ("操作者", "Actor"),
    "audit.action": ("动作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.detail": ("详情", "Detail"),
    "audit.patient": ("居民", "Resident"),
    "audit.filter": ("筛选", "Filter"),
    "audit.rows": ("第 {first}–{last} 条，共 {total} 条", "Rows {first}–{last} of {total}"),
    "audit.next": ("下一页", "Next page"),
    "audit.previous": ("上一页", "Previous page"),
    "error.title": ("无法显示", "Cannot show this"),
    "section.encounters": ("就诊", "Encounters"),
    "section.problems": ("诊断与问题", "Problems"),
    "section.medications": ("用药", "Medications"),
    "section.allergies": ("过敏", "Allergies"),
    "section.results": ("检验检查结果", "Results"),
    "section.immunizations": ("预防接种", "Immunizations"),
    "section.referrals and orders": ("转诊与医嘱", "Referrals and orders"),
    "section.care plans and episodes": ("照护计划与签约", "Care plans and episodes"),
}


def language(request: web.Request) -> str:
    """?lang= first, then the cookie, else Chinese."""
    asked = request.query.get("lang") or request.cookies.get(COOKIE, "")
    return asked if asked in LANGUAGES else "zh"


def translate(lang: str, key: str, **values: object) -> str:
    """The text for ``key`` in ``lang`` (the key itself when the table lacks it: a gap shows, never breaks)."""
    pair = TEXT.get(key)
    text = key if pair is None else pair[LANGUAGES.index(lang)]
    return text.format(**values) if values else text
