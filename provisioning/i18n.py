"""Chinese and English texts of the staff page; the browser language picks one, a cookie overrides.

A missing key shows the key itself (never an empty label); tests check every key has both texts.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

LANGUAGES = ("zh", "en")

# key: (English, Chinese)
MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("Door gateway", "门卫网关"),
    "nav_dashboard": ("Dashboard", "概览"),
    "nav_people": ("People", "人员"),
    "nav_codes": ("Visitor codes", "访客码"),
    "nav_events": ("Events", "通行记录"),
    "nav_alerts": ("Alerts", "告警"),
    "nav_watchlist": ("Watch list", "布控名单"),
    "nav_settings": ("Settings", "设置"),
    "nav_audit": ("Audit log", "审计日志"),
    "nav_accounts": ("Accounts", "账号"),
    "logout": ("Log out", "退出"),
    "login": ("Log in", "登录"),
    "username": ("Account name", "账号"),
    "password": ("Password", "密码"),
    "password_again": ("Password again", "再次输入密码"),
    "setup_title": ("First start: create the administrator", "首次启动：创建管理员"),
    "setup_token": ("Setup token (from the console log)", "初始化令牌（见控制台日志）"),
    "setup_done": ("Administrator created; please log in.", "管理员已创建，请登录。"),
    "bad_credentials": ("Wrong account name or password.", "账号或密码错误。"),
    "locked": (
        "Too many failed logins from this device: logging in is paused here for a while.",
        "此设备登录失败次数过多，暂时无法从此处登录。",
    ),
    "login_busy": (
        "Too many logins are being tried right now: please try again in a moment.",
        "当前登录尝试过多，请稍后再试。",
    ),
    "bad_setup_token": ("The setup token is wrong or already used.", "初始化令牌错误或已使用。"),
    "password_too_short": ("The password is too short.", "密码太短。"),
    "password_too_simple": (
        "Use at least three of: lower case, upper case, digits, symbols.",
        "至少包含小写、大写、数字、符号中的三类。",
    ),
    "password_has_username": (
        "The password must not contain the account name.",
        "密码不能包含账号名。",
    ),
    "passwords_differ": ("The two passwords differ.", "两次输入的密码不一致。"),
    "login_required": (
        "Please log in (your session may have expired).",
        "请登录（会话可能已过期）。",
    ),
    "admin_only": ("Only an administrator may do this.", "仅管理员可操作。"),
    "csrf_failed": (
        "The form expired or did not come from this page; reload and try again.",
        "表单已过期或来源不明，请刷新后重试。",
    ),
    "no_access_rule": ("This page is closed.", "此页面未开放。"),
    "not_found": ("Not found.", "未找到。"),
    "upload_too_large": (
        "The upload is larger than the limit of {limit} MB.",
        "上传内容超过 {limit} MB 的限制。",
    ),
    "body_timeout": (
        "The upload did not arrive within {seconds:.0f} seconds; the connection was closed.",
        "上传内容未在 {seconds:.0f} 秒内传完，连接已关闭。",
    ),
    "uploads_busy": (
        "Too many uploads at once; try again in a few seconds.",
        "同时上传过多，请几秒后重试。",
    ),
    "photo_too_large": (
        "A photo is too large to check safely (over 50 megapixels or 200 MB once decoded; "
        "16-bit and transparent images count more). Send an ordinary JPEG or PNG photo.",
        "照片过大，无法安全检查（超过 5000 万像素或解码后超过 200 MB；16 位和带透明通道的图片"
        "占用更多）。请上传普通的 JPEG 或 PNG 照片。",
    ),
    "date_out_of_range": (
        "Dates must fall between the years 1970 and 2199.",
        "日期必须在 1970 年至 2199 年之间。",
    ),
    "erased_wal_pending": (
        "The person is erased, but the database journal (WAL) could not be cleared: copies of "
        "the erased records may remain in it until it is next cleared. This was written to the "
        "audit log and shows on the dashboard.",
        "人员已删除，但数据库日志（WAL）未能清空：已删除记录的副本可能暂留其中，直到下次清空。"
        "此情况已写入审计日志，并显示在概览页。",
    ),
    "door_state": ("Door", "门状态"),
    "live_camera": ("Live camera", "实时画面"),
    "recent_events": ("Recent events", "最近通行"),
    "open_alerts": ("Open alerts", "未处理告警"),
    "health": ("Health", "运行状态"),
    "time": ("Time", "时间"),
    "person": ("Person", "人员"),
    "door": ("Door", "门"),
    "method": ("Method", "方式"),
    "verdict": ("Verdict", "结果"),
    "reason": ("Reason", "原因"),
    "kind": ("Kind", "类型"),
    "severity": ("Severity", "级别"),
    "acknowledge": ("Acknowledge", "确认"),
    "acknowledged": ("Acknowledged", "已确认"),
    "snapshot": ("Snapshot", "抓拍"),
    "external_id": ("Person ID", "人员编号"),
    "display_name": ("Name", "姓名"),
    "role": ("Role", "身份"),
    "role_owner": ("Owner", "业主"),
    "role_tenant": ("Tenant", "租户"),
    "role_family": ("Family member", "家属"),
    "role_staff": ("Property staff", "物业人员"),
    "unit": ("Unit", "房屋"),
    "building": ("Building", "楼栋"),
    "unit_number": ("Stairwell unit", "单元"),
    "room_number": ("Room", "房间"),
    "valid_from": ("Valid from", "生效时间"),
    "valid_until": ("Valid until", "失效时间"),
    "active": ("Active", "启用"),
    "inactive": ("Inactive", "停用"),
    "erased": ("Erased", "已删除"),
    "save": ("Save", "保存"),
    "cancel": ("Cancel (nothing is saved)", "取消（不保存）"),
    "new_person": ("New person", "新增人员"),
    "edit": ("Edit", "编辑"),
    "deactivate": ("Deactivate", "停用"),
    "activate": ("Activate", "启用"),
    "credentials": ("Credentials", "凭证"),
    "cards": ("Cards", "门卡"),
    "add_card": ("Add card", "添加门卡"),
    "facility": ("Facility code", "设施码"),
    "card_number": ("Card number", "卡号"),
    "pin": ("PIN", "密码"),
    "set_pin": ("Set PIN", "设置密码"),
    "has_pin": ("PIN set", "已设置密码"),
    "face_templates": ("Face templates", "人脸模板"),
    "enrol_face": ("Enrol face", "录入人脸"),
    "consent": ("Consent", "授权同意"),
    "consent_text": (
        "I have read the face-recognition notice (version {version}) to the resident and they "
        "agree that a face template is stored on this gateway to open the door.",
        "我已向住户说明人脸识别告知书（版本 {version}），住户同意在本网关保存其人脸模板用于开门。",
    ),
    "consent_required": (
        "Consent must be recorded before any face is processed.",
        "处理人脸前必须记录授权同意。",
    ),
    "photos": ("Photos", "照片"),
    "capture_camera": ("Capture from the door camera", "从门口摄像头抓拍"),
    "analyse": ("Check photos", "检查照片"),
    "face_found": ("face found", "检测到人脸"),
    "no_face": ("No face found in this photo.", "照片中未检测到人脸。"),
    "many_faces": (
        "{n} faces in this photo: use a photo of this person alone.",
        "照片中有 {n} 张人脸，请使用本人单独照片。",
    ),
    "not_image": ("This file is not an image we can read.", "无法识别该文件为图片。"),
    "quality_too_small": ("Face too small (move closer).", "人脸太小（请靠近）。"),
    "quality_at_edge": ("Face at the edge of the photo.", "人脸位于画面边缘。"),
    "quality_yaw": ("Head turned sideways.", "头部侧转过大。"),
    "quality_pitch": ("Head tilted up or down.", "头部俯仰过大。"),
    "quality_blur": ("Photo is blurred.", "照片模糊。"),
    "quality_too_dark": ("Photo too dark.", "照片太暗。"),
    "quality_too_bright": ("Photo too bright.", "照片过亮。"),
    "quality_too_close": ("Face fills the photo (step back).", "人脸过近（请后退）。"),
    "liveness_low": (
        "Liveness score low (photo of a photo or screen?).",
        "活体分数低（疑似翻拍）。",
    ),
    "usable": ("Usable", "可用"),
    "duplicate_warning": (
        "This face is confusable with {other} (similarity {score}): the door could take one "
        "for the other. Saving needs confirmation and sets BOTH people to two factors "
        "(face + PIN/card).",
        "该人脸与 {other} 相似（相似度 {score}），门禁可能混淆两人。保存前需确认，保存后两人均需"
        "双重验证（人脸+密码/门卡）。",
    ),
    "confirm_duplicate": (
        "I checked: this is a different person / save anyway.",
        "已核实，仍然保存。",
    ),
    "duplicate_unconfirmed": ("Confirm the duplicate warning first.", "请先确认重复提示。"),
    "save_templates": ("Save face templates", "保存人脸模板"),
    "no_usable_photo": ("No usable photo: nothing was saved.", "没有可用照片，未保存任何内容。"),
    "needs_other_credential": (
        "Add a card or PIN first: the face is never the only way in.",
        "请先添加门卡或密码：人脸不能作为唯一凭证。",
    ),
    "templates_saved": ("Face templates saved.", "人脸模板已保存。"),
    "enrolment_expired": (
        "This check expired; please upload again.",
        "检查结果已过期，请重新上传。",
    ),
    "pipeline_missing": ("Face models are not loaded on this gateway.", "本网关未加载人脸模型。"),
    "camera_unavailable": ("No camera frame available.", "当前没有摄像头画面。"),
    "concurrent_edit": (
        "Someone else changed this person meanwhile; your changes were not saved. "
        "Reload and retry.",
        "该人员已被他人修改，您的修改未保存，请刷新后重试。",
    ),
    "duplicate_external_id": ("This person ID is already in use.", "该人员编号已被使用。"),
    "duplicate_card": ("This card is already registered.", "该门卡已被登记。"),
    "last_credential": (
        "This is the last card/PIN of a person with face templates: add another first.",
        "这是已录入人脸人员的最后一个门卡/密码，请先添加其他凭证。",
    ),
    "card_format": ("Wiegand format", "韦根格式"),
    "card_format_bits": ("{bits}-bit", "{bits} 位"),
    "card_format_invalid": (
        "The card does not fit this Wiegand format: {detail}",
        "卡号与所选韦根格式不符：{detail}",
    ),
    "keypad_pin_hint": (
        "At the door keypad: # {number} # PIN #",
        "门口键盘输入：# {number} # 密码 #",
    ),
    "two_factor": ("Two factors", "双重验证"),
    "two_factor_on": (
        "The door asks for a second credential of this person: face + PIN or card, or card + "
        "PIN, within {seconds} s.",
        "开门需此人的第二凭证：人脸+密码或门卡，或门卡+密码，须在 {seconds} 秒内完成。",
    ),
    "two_factor_off": ("One credential opens the door.", "单一凭证即可开门。"),
    "two_factor_source_confusable": (
        "Set automatically: this face is confusable with another resident's.",
        "系统自动设置：此人脸与其他住户的人脸易混淆。",
    ),
    "two_factor_source_staff": ("Set by staff.", "由工作人员设置。"),
    "require_two_factor": ("Require two factors", "启用双重验证"),
    "drop_two_factor": ("One credential is enough", "取消双重验证"),
    "two_factor_needs_two": (
        "Two factors need two kinds of credential (face, card, PIN): add one, or this person "
        "cannot get in.",
        "双重验证需要两种凭证（人脸、门卡、密码），请补充，否则此人无法进门。",
    ),
    "good_templates": ("Good face templates", "有效人脸模板"),
    "too_few_templates": (
        "Only {n} good face templates: enrol at least {min} (photos, or a short capture from "
        "the door camera) so the door recognises this person reliably.",
        "有效人脸模板仅 {n} 个：请至少录入 {min} 个（照片或门口摄像头抓拍），以便可靠识别。",
    ),
    "enrol_summary": (
        "{n} of {total} usable: at least {min} good templates per person are recommended.",
        "可用 {n}/{total}：建议每人至少 {min} 个有效模板。",
    ),
    "templates_saved_two_factor": (
        "Face templates saved. This face is confusable with another resident's: both now need "
        "a second credential (face + PIN/card).",
        "人脸模板已保存。此人脸与其他住户易混淆：两人现均需第二凭证（人脸+密码/门卡）。",
    ),
    "remove": ("Remove", "移除"),
    "withdraw_consent": (
        "Consent withdrawn: delete this person's face templates",
        "撤回授权：删除此人的人脸模板",
    ),
    "bad_input": ("Please correct the highlighted values.", "请修正输入内容。"),
    "issue_code": ("Issue code", "生成访客码"),
    "max_uses": ("Uses", "可用次数"),
    "use_count": ("Used", "已用"),
    "revoke": ("Revoke", "撤销"),
    "revoked": ("Revoked", "已撤销"),
    "code_issued": ("Visitor code (shown once)", "访客码（仅显示一次）"),
    "print": ("Print", "打印"),
    "filter": ("Filter", "筛选"),
    "from": ("From", "从"),
    "to": ("To", "到"),
    "export_csv": ("Export CSV", "导出 CSV"),
    "import_csv": ("Import CSV", "导入 CSV"),
    "imported": ("{n} people imported.", "已导入 {n} 人。"),
    "import_failed": ("Nothing was imported:", "未导入任何数据："),
    "erase": ("Erase person", "彻底删除"),
    "erase_confirm": (
        "Erase for real: templates, photos, cards, PIN and codes are deleted; past events keep "
        "only a pseudonym. Type the person ID to confirm.",
        "彻底删除：模板、照片、门卡、密码和访客码将被删除，历史记录仅保留化名。请输入人员编号确认。",
    ),
    "erased_done": (
        "Person erased; past events keep only a pseudonym.",
        "已彻底删除，历史记录仅保留化名。",
    ),
    "category": ("Category", "类别"),
    "version": ("Version", "版本"),
    "updated": ("Updated", "更新时间"),
    "watchlist_note": (
        "Pushed by the station; read-only. No photos are kept.",
        "由平台下发，只读，不保存照片。",
    ),
    "setting": ("Setting", "设置项"),
    "value": ("Value", "值"),
    "calibrated": ("Calibrated", "标定值"),
    "settings_saved": (
        "Settings saved to the configuration file; the door applies them when it restarts.",
        "设置已写入配置文件，门禁服务重启后生效。",
    ),
    "settings_applied": (
        "Settings saved to the configuration file and applied to the running door.",
        "设置已写入配置文件，并已在运行中的门禁生效。",
    ),
    "settings_failed": ("Settings not saved:", "设置未保存："),
    "actor": ("Who", "操作人"),
    "action": ("Action", "操作"),
    "target": ("Target", "对象"),
    "source": ("From", "来源"),
    "new_account": ("New account", "新增账号"),
    "my_account": ("My account", "我的账号"),
    "change_password": ("Change password", "修改密码"),
    "current_password": ("Current password", "当前密码"),
    "new_password": ("New password", "新密码"),
    "password_changed": (
        "Password changed; your other sessions were ended.",
        "密码已修改，其他会话已退出。",
    ),
    "reset_password": ("Reset password", "重置密码"),
    "account_created": ("Account created.", "账号已创建。"),
    "account_exists": ("This account name is taken.", "账号名已存在。"),
    "tls_upload": ("Upload TLS certificate", "上传 TLS 证书"),
    "tls_saved": ("Certificate saved; it is used after a restart.", "证书已保存，重启后生效。"),
    "tls_invalid": ("Certificate and key do not form a valid pair.", "证书与私钥不匹配或无效。"),
    "all": ("All", "全部"),
    "none": ("None", "无"),
    "language": ("中文", "English"),
    "error": ("Error", "错误"),
    "ok": ("OK", "正常"),
    "problem": ("Problem", "异常"),
}


class Translator:
    """Callable `t(key, **values)` for one language."""

    def __init__(
        self, language: str, messages: Mapping[str, tuple[str, str]] | None = None
    ) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.messages = MESSAGES if messages is None else messages

    @property
    def other(self) -> str:
        return "en" if self.language == "zh" else "zh"

    def known(self, key: str) -> bool:
        return key in self.messages

    def __call__(self, key: str, **values: object) -> str:
        pair = self.messages.get(key)
        if pair is None:
            return key
        text = pair[1] if self.language == "zh" else pair[0]
        return text.format(**values) if values else text


def pick_language(cookie: str | None, request: Request) -> str:
    """The cookie's language when set, else the first of zh/en in Accept-Language, else zh."""
    if cookie in LANGUAGES:
        return cookie
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"
