"""The first reply to a crisis message, with emergency numbers (China).

This is the immediate reply only; follow-up (alerting a human, the expert path) belongs
to the bot. Numbers follow ``shared/kb_facts.md`` (110 police, 120 ambulance, 12356
psychological assistance, 12355 youth service line) and match the self-harm entry.
"""

from __future__ import annotations

from knowledge_base.crisis import CrisisKind
from knowledge_base.entries import Lang

_REPLIES: dict[tuple[CrisisKind, Lang], str] = {
    ("self_harm", "en"): (
        "If your child is in danger right now, call 120 (ambulance) or 110 (police).\n"
        "• Stay with your child; do not leave them alone.\n"
        "• Put away medicines, blades, ropes and pesticides; close windows and balcony "
        "doors.\n"
        "• Listen calmly; it is fine to ask directly whether they are thinking of "
        "suicide.\n"
        "Support lines: 12356 (psychological assistance), 12355 (youth service line). "
        "Tell the school counsellor as soon as you can."
    ),
    ("self_harm", "zh"): (
        "如果孩子现在有危险，请立即拨打120（急救）或110（报警）。\n"
        "• 陪在孩子身边，不要让他独处。\n"
        "• 收好药品、刀片、绳子、农药，关好窗户和阳台门。\n"
        "• 冷静倾听，可以直接问他是不是有轻生的想法。\n"
        "求助热线：12356（心理援助热线）、12355（青少年服务台）。请尽快告诉学校心理老师。"
    ),
    ("abuse", "en"): (
        "If a child is in danger right now, call 110 (police); if they are hurt, call 120.\n"
        "• Keep the child safe and away from the person who hurt them.\n"
        "• Believe the child, stay calm, and do not question them again and again.\n"
        "• Keep any evidence (photos of injuries, messages); do not confront the person "
        "alone.\n"
        "You can report to the police (110) and get advice from 12355 (youth service line)."
    ),
    ("abuse", "zh"): (
        "如果孩子现在有危险，请立即拨打110报警；如果受了伤，拨打120。\n"
        "• 让孩子待在安全的地方，远离伤害他的人。\n"
        "• 相信孩子，保持冷静，不要反复追问。\n"
        "• 保留证据（伤情照片、聊天记录），不要独自去质问对方。\n"
        "可以向公安机关（110）报案，也可以拨打12355（青少年服务台）寻求帮助。"
    ),
}


def crisis_reply(kind: CrisisKind, lang: Lang) -> str:
    """The immediate crisis reply for ``kind`` in ``lang`` (plain text, bullet lines)."""
    return _REPLIES[kind, lang]
