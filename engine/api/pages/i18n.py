"""The console's words in Chinese (the default) and English: one table, looked up by key; a page asks for the
language of its request (``?lang=`` first, then the ``lang`` cookie)."""

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
}


def language(request: web.Request) -> str:
    asked = request.query.get(COOKIE) or request.cookies.get(COOKIE) or DEFAULT
    return asked if asked in LANGUAGES else DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    index = LANGUAGES.index(lang)

    def t(key: str) -> str:
        return TEXT[key][index]

    return t
