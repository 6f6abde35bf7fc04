"""The console's words in Chinese (the default) and English, for every page of both halves (operations, and the
people and supervision pages): one table, looked up by key; a page asks for the language of its request (``?lang=``
first, then the ``lang`` cookie)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"

TEXT: dict[str, tuple[str, str]] = {
    "title": ("汇通集成引擎 控制台", "Huitong engine console"),
    "nav.dashboard": ("总览", "Dashboard"),
    "nav.messages": ("消息", "Messages"),
    "nav.reviews": ("患者主索引审核", "MPI review"),
    "nav.resident": ("居民健康档案", "Resident record"),
    "nav.indicators": ("指标", "Indicators"),
    "nav.audit": ("审计日志", "Audit log"),
    "dashboard": ("运行总览", "Dashboard"),
    "channels": ("通道", "Channels"),
    "channel": ("通道", "Channel"),
    "all_channels": ("全部通道", "All channels"),
    "state": ("状态", "State"),
    "state.started": ("运行中", "started"),
    "state.paused": ("已暂停", "paused"),
    "state.stopped": ("已停止", "stopped"),
    "state.disabled": ("已禁用", "disabled"),
    "source": ("来源", "Source"),
    "connections": ("连接数", "Connections"),
    "received": ("接收", "Received"),
    "processed": ("已处理", "Processed"),
    "errored": ("出错", "Errored"),
    "filtered": ("已过滤", "Filtered"),
    "last_message": ("最近消息", "Last message"),
    "per_minute": ("每分钟消息数（近 60 分钟）", "Messages per minute (last 60 minutes)"),
    "queues": ("队列", "Queues"),
    "destination": ("目标", "Destination"),
    "waiting": ("待发送", "Waiting"),
    "oldest": ("最早等待（秒）", "Oldest (seconds)"),
    "dead": ("死信", "Dead"),
    "dead_letters": ("死信", "Dead letters"),
    "attempts": ("尝试次数", "Attempts"),
    "last_error": ("最近错误", "Last error"),
    "nodes": ("节点", "Nodes"),
    "node": ("节点", "Node"),
    "none": ("无", "none"),
    "search": ("搜索", "Search"),
    "status": ("状态", "Status"),
    "any": ("任意", "any"),
    "since": ("起始时间", "Since"),
    "until": ("截止时间", "Until"),
    "type": ("消息类型", "Type"),
    "control_id": ("控制号", "Control ID"),
    "patient": ("患者标识", "Patient identifier"),
    "text": ("内容包含", "Content contains"),
    "received_at": ("接收时间", "Received"),
    "id": ("编号", "ID"),
    "no_messages": ("没有符合条件的消息", "No message matches"),
    "text_scanned": (
        "此次内容搜索逐条读取了消息（少于 3 个字，或数据库没有全文索引）：请同时限定通道和时间",
        "This content search read message by message (under 3 characters, or no text index in the store):"
        " narrow it by channel and time",
    ),
    "next_page": ("下一页", "Next page"),
    "previous_page": ("上一页", "Previous page"),
    "message": ("消息", "Message"),
    "error": ("错误", "Error"),
    "sent_at": ("发送时间", "Sent"),
    "next_attempt": ("下次尝试", "Next attempt"),
    "response": ("应答", "Response"),
    "raw": ("原始消息", "Raw message"),
    "stage": ("阶段内容", "Stored stage"),
    "mapped": ("映射后的 FHIR", "Mapped FHIR"),
    "reprocess": ("重新处理", "Reprocess"),
    "reprocessing": ("已重新排队，等待处理……", "Queued again, waiting…"),
    "reprocessed": ("重新处理完成", "Reprocessed"),
    "reprocess_failed": ("重新处理失败", "Reprocessing failed"),
    "content_needs_clinical": (
        "消息内容含居民个人信息，需要临床（clinical）或管理员角色才能查看。",
        "Message content holds residents' personal data: it needs the clinical (or admin) role.",
    ),
    "forbidden": ("没有权限", "Not allowed"),
    "language": ("English", "中文"),
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
    "audit.at": ("时间", "Time"),
    "audit.actor": ("操作者", "Actor"),
    "audit.action": ("动作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.detail": ("详情", "Detail"),
    "audit.patient": ("居民", "Resident"),
    "audit.filter": ("筛选", "Filter"),
    "audit.rows": ("第 {first}–{last} 条，共 {total} 条", "Rows {first}–{last} of {total}"),
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
    asked = request.query.get(COOKIE) or request.cookies.get(COOKIE) or DEFAULT
    return asked if asked in LANGUAGES else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the text for ``key`` in ``lang`` with the values filled in; the key itself when the
    table lacks it (a key made from data, such as a record section, shows as itself rather than breaking the page)."""
    index = LANGUAGES.index(lang)

    def t(key: str, **values: object) -> str:
        pair = TEXT.get(key)
        text = key if pair is None else pair[index]
        return text.format(**values) if values else text

    return t
