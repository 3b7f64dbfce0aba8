"""Chinese and English texts of the console; the language comes from the `lang` cookie or the
browser (provisioning's `pick_language`). A missing key shows the key itself."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("Station console", "派出所门禁指挥台"),
    "nav_board": ("Alert board", "告警看板"),
    "nav_gateways": ("Gateways", "网关状态"),
    "nav_events": ("Event search", "通行记录查询"),
    "nav_flow": ("Flow per building", "楼栋人员流动"),
    "nav_commands": ("Commands", "远程指令"),
    "nav_audit": ("Audit log", "审计日志"),
    "logout": ("Log out", "退出"),
    "login": ("Log in", "登录"),
    "username": ("Account name", "账号"),
    "password": ("Password", "密码"),
    "bad_credentials": ("Wrong account name or password.", "账号或密码错误。"),
    "login_required": ("Please log in.", "请登录。"),
    "forbidden": ("Your role may not do this.", "您的角色无权执行此操作。"),
    "csrf_failed": ("The form expired; reload and try again.", "表单已过期，请刷新后重试。"),
    "live": ("live", "实时"),
    "reconnecting": ("reconnecting…", "正在重连…"),
    "snapshot": ("Snapshot", "抓拍"),
    "door": ("Door", "门"),
    "time": ("Time", "时间"),
    "kind": ("Kind", "类型"),
    "severity": ("Severity", "级别"),
    "status": ("Status", "状态"),
    "acknowledge": ("Acknowledge", "确认"),
    "acknowledged_by": ("Acknowledged by {who}", "已由 {who} 确认"),
    "assign": ("Assign", "指派"),
    "assigned_to": ("Assigned to", "指派给"),
    "open_alerts": ("Open alerts", "未处理告警"),
    "no_alerts": ("No open alerts.", "暂无未处理告警。"),
    "gateway": ("Gateway", "网关"),
    "online": ("online", "在线"),
    "offline": ("offline", "离线"),
    "last_seen": ("Last seen", "最后通信"),
    "fps": ("FPS", "帧率"),
    "latency": ("Latency p95 (ms)", "识别延迟 p95 (毫秒)"),
    "outbox": ("Outbox", "待发队列"),
    "cpu_temp": ("CPU °C", "CPU 温度"),
    "disk": ("Free disk (GB)", "剩余磁盘 (GB)"),
    "model": ("Model pack", "模型包"),
    "missing": ("Missing seqs", "缺失序号"),
    "search": ("Search", "查询"),
    "person": ("Person", "人员"),
    "method": ("Method", "方式"),
    "verdict": ("Verdict", "结果"),
    "reason": ("Reason", "原因"),
    "from": ("From", "从"),
    "to": ("To", "到"),
    "any": ("any", "全部"),
    "results": (
        "{n} results (newest first, at most {limit})",
        "共 {n} 条（最新在前，最多 {limit} 条）",
    ),
    "building": ("Building", "楼栋"),
    "day": ("Day", "日期"),
    "flow_in": ("In", "进"),
    "flow_out": ("Out", "出"),
    "residents": ("Residents", "住户"),
    "visitors": ("Visitors (codes)", "访客（访客码）"),
    "remote": ("Remote opens", "远程开门"),
    "denied": ("Denied", "拒绝"),
    "command": ("Command", "指令"),
    "cmd_open": ("Remote open", "远程开门"),
    "cmd_issue_code": ("Visitor code", "访客码"),
    "cmd_sync_watchlist": ("Push watch list", "下发布控名单"),
    "cmd_sync_people": ("Push people", "下发人员"),
    "cmd_replay": ("Replay (automatic)", "补发（自动）"),
    "unit": ("Unit (building/unit/room)", "房号（楼/单元/室）"),
    "valid_hours": ("Valid hours", "有效小时"),
    "code": ("Code (4-12 digits)", "访客码（4-12 位数字）"),
    "delta_file": ("Delta (JSON)", "增量（JSON）"),
    "send": ("Send", "发送"),
    "sent": ("Sent command {id}", "已发送指令 {id}"),
    "bad_input": ("Bad input: {why}", "输入有误：{why}"),
    "no_key": ("No station signing key is configured.", "未配置派出所签名密钥。"),
    "result": ("Result", "结果"),
    "waiting": ("waiting…", "等待中…"),
    "ok": ("ok", "成功"),
    "failed": ("failed", "失败"),
    "by": ("By", "操作人"),
    "sent_at": ("Sent", "发送时间"),
    "actor": ("Actor", "操作人"),
    "action": ("Action", "操作"),
    "target": ("Target", "对象"),
    "visitor_calls": ("Visitor calls", "访客呼叫"),
    "called_unit": ("Unit called", "呼叫房号"),
    "answer": ("Answer", "应答"),
    "accept": ("Accept (open)", "接听并开门"),
    "decline": ("Decline", "拒绝"),
    "call_ringing": ("ringing", "呼叫中"),
    "call_accepted": ("accepted", "已接听开门"),
    "call_declined": ("declined", "已拒绝"),
    "call_missed": ("missed", "未接"),
    "call_unresolved": ("ended (no word from the gateway)", "已结束（网关未报告结果）"),
    "cmd_answer_call": ("Answer a visitor call", "应答访客呼叫"),
    "calls_placed": ("Calls", "访客呼叫"),
    "calls_accepted": ("Calls accepted", "呼叫开门"),
    "language": ("中文", "English"),
}


class Texts:
    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            return key
        text = pair[1] if self.language == "zh" else pair[0]
        return text.format(**values) if values else text

    @property
    def other(self) -> str:
        return "en" if self.language == "zh" else "zh"
