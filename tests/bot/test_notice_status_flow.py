"""/notices end to end through the emulator: a teacher follows a notice that went out, opens
its view, gets the chart and the CSV; parents, strangers and other teachers are refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.handlers.notice_status import NoticeStatusAction, status_text
from bot.i18n import build_i18n
from campus.models import NoticeKind, Person, Role, RoleGrant
from campus.services.notice_status import (
    ClassAckTimes,
    DeliveryCounts,
    FamilyCounts,
    NoticeStatus,
    NoticeSummary,
)
from campus.services.outbox import FamilyLine
from emulator import SimUser
from tests.bot.conftest import LiveBot
from tests.bot.families import SchoolSetup, make_school, publish, received, safety_alert

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _staff(live: LiveBot, setup: SchoolSetup, name: str, role: Role) -> SimUser:
    """Another member of the school's staff, as if they had joined."""
    user = live.emu.create_user(name, language_code="en")
    async with live.sessionmaker() as session, session.begin():
        person = Person(telegram_user_id=user.id, full_name=name, language="en")
        session.add(person)
        await session.flush()
        session.add(RoleGrant(person_id=person.id, school_id=setup.school_id, role=role))
    return user


async def _sent_notice(live: LiveBot) -> tuple[SchoolSetup, int, dict[str, dict[str, Any]]]:
    """Three families of 3A got a safety alert half an hour ago; Wang Fang's has confirmed."""
    setup = await make_school(live, {"Wang Fang": 2, "Li Lei": 1, "Chen Jing": 1})
    notice_id = await publish(
        live, setup, safety_alert(setup.class_id), sent_ago=timedelta(minutes=30)
    )
    messages = {}
    for family in setup.families:
        [messages[family.child]] = await received(live, family.guardians[0])
    wang = setup.family("Wang Fang").guardians[0]
    await live.press(wang, messages["Wang Fang"], live.emu.button_texts(messages["Wang Fang"])[0])
    return setup, notice_id, messages


async def _press_for_new(live: LiveBot, user: SimUser, message: dict[str, Any], button: str) -> Any:
    """Press a button and return the new message the bot sends for it."""
    await live.press(user, message, button)
    [reply] = await live.emu.wait_for_messages(user, count=1, timeout=30)
    return reply


async def test_teacher_lists_opens_charts_and_exports_a_notice(live: LiveBot) -> None:
    setup, notice_id, messages = await _sent_notice(live)
    teacher = setup.teacher

    listing = await live.send(teacher, "/notices")
    assert f"#{notice_id}" in listing["text"]
    assert "Swimming safety" in listing["text"]
    assert "acknowledged 1/3" in listing["text"]
    button = f"#{notice_id} · Swimming safety"
    assert live.emu.button_texts(listing) == [button]

    view = await _press_for_new(live, teacher, listing, button)
    text = view["text"]
    assert "Guardians: 3 sent, 1 to be asked later if needed." in text
    assert "Families: 1 of 3 acknowledged, 2 not yet." in text
    assert "Not yet acknowledged:" in text
    assert "• Li Lei (3A): Parent Li Lei 1 (reachable)" in text
    assert "• Chen Jing (3A): Parent Chen Jing 1 (reachable)" in text
    assert "Wang Fang (3A)" not in text
    assert live.emu.button_texts(view) == ["📈 Chart", "📄 CSV", "🔄 Refresh"]

    chart = await _press_for_new(live, teacher, view, "📈 Chart")
    assert chart.get("photo"), chart
    assert live.emu.file_bytes(chart["photo"][-1]["file_id"]).startswith(PNG_SIGNATURE)
    assert f"Notice #{notice_id}: families who acknowledged (1 of 3)" in chart["caption"]

    document = await _press_for_new(live, teacher, view, "📄 CSV")
    assert document["document"]["file_name"] == f"notice-{notice_id}.csv"
    data = live.emu.file_bytes(document["document"]["file_id"])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["child"], r["guardian"]) for r in rows] == [
        ("Chen Jing", "Parent Chen Jing 1"),
        ("Li Lei", "Parent Li Lei 1"),
        ("Wang Fang", "Parent Wang Fang 1"),
        ("Wang Fang", "Parent Wang Fang 2"),
    ]
    wang_first, wang_second = rows[2], rows[3]
    assert wang_first["acknowledged_at"] and wang_first["telegram_message_id"]
    assert wang_first["sent_at"] and wang_first["reachable"] == "yes"
    assert wang_second["sent_at"] == "" and wang_second["acknowledged_at"] == ""
    assert rows[1]["acknowledged_at"] == ""

    # The view refreshed in place once Li Lei's family has confirmed too.
    li_parent = setup.family("Li Lei").guardians[0]
    li_message = messages["Li Lei"]
    await live.press(li_parent, li_message, live.emu.button_texts(li_message)[0])
    await live.press(teacher, view, "🔄 Refresh")
    [refreshed] = [m for m in live.emu.chat_log(teacher) if m["message_id"] == view["message_id"]]
    assert refreshed["edits"]
    assert "Families: 2 of 3 acknowledged, 1 not yet." in refreshed["text"]
    assert "Li Lei (3A)" not in refreshed["text"]


async def test_an_admin_sees_every_notice_of_the_school(live: LiveBot) -> None:
    setup, notice_id, _messages = await _sent_notice(live)
    admin = await _staff(live, setup, "Principal Zhang", Role.ADMIN)
    listing = await live.send(admin, "/notices")
    assert f"#{notice_id}" in listing["text"]
    view = await _press_for_new(live, admin, listing, f"#{notice_id} · Swimming safety")
    assert "Families: 1 of 3 acknowledged, 2 not yet." in view["text"]


async def test_parents_strangers_and_other_teachers_are_refused(live: LiveBot) -> None:
    setup, notice_id, messages = await _sent_notice(live)
    parent = setup.family("Li Lei").guardians[0]
    stranger = live.emu.create_user("Stranger", language_code="en")
    for user in (parent, stranger):
        reply = await live.send(user, "/notices")
        assert "this command is for school staff" in reply["text"]

    forged = NoticeStatusAction(act="csv", notice=notice_id).pack()
    answer = await live.emu.press_button(parent, messages["Li Lei"], forged, check_button=False)
    assert answer is not None and answer["show_alert"]
    assert "You can see only the notices you sent" in answer["text"]

    other_teacher = await _staff(live, setup, "Teacher Wu", Role.TEACHER)
    empty = await live.send(other_teacher, "/notices")
    assert "No notices yet." in empty["text"]
    for act in ("open", "chart", "csv", "refresh"):
        data = NoticeStatusAction(act=act, notice=notice_id).pack()
        answer = await live.emu.press_button(other_teacher, empty, data, check_button=False)
        assert answer is not None and answer["show_alert"], act
        assert "You can see only the notices you sent" in answer["text"]
    # One person's updates are handled in order: after /help's answer nothing else can come.
    await live.send(other_teacher, "/help")
    assert len(live.emu.chat_log(other_teacher)) == 2
    assert len(live.emu.chat_log(parent)) == 2  # the notice and the refusal of /notices


def _summary(**changes: Any) -> NoticeSummary:
    values: dict[str, Any] = {
        "notice_id": 7,
        "school_id": 1,
        "kind": NoticeKind.SAFETY_ALERT,
        "is_drill": False,
        "requires_ack": True,
        "title": {"en": "Swimming safety"},
        "version": 1,
        "send_at": datetime(2025, 6, 2, tzinfo=UTC),
        "deadline_at": datetime(2025, 6, 3, tzinfo=UTC),
        "timezone": "Asia/Shanghai",
        "cancelled": False,
        "deliveries": DeliveryCounts(guardians=400, sent=400),
        "families": FamilyCounts(total=400, acknowledged=0),
    }
    values.update(changes)
    return NoticeSummary(**values)


def test_a_long_list_of_families_is_cut_to_fit_one_message() -> None:
    pending = tuple(
        FamilyLine(f"Child number {n}", "3A", ((f"Guardian of child {n}", True),))
        for n in range(400)
    )
    status = NoticeStatus(_summary(), pending, datetime(2025, 6, 2, tzinfo=UTC), ())
    i18n = build_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        text = status_text(status, "en")
    assert len(text) <= 4096
    shown = text.count("• Child number")
    assert 30 < shown < 400
    assert f"… and {400 - shown} more: the CSV lists everyone." in text
    assert "Sent 2025-06-02 08:00 · deadline 2025-06-03 08:00" in text


def test_a_drill_shows_time_to_acknowledge_per_class() -> None:
    figures = (
        ClassAckTimes("3A", 4, 3, timedelta(minutes=4, seconds=10), timedelta(minutes=65)),
        ClassAckTimes("3B", 2, 0, None, None),
    )
    status = NoticeStatus(
        _summary(is_drill=True), (), datetime(2025, 6, 2, tzinfo=UTC), (), figures
    )
    i18n = build_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        text = status_text(status, "en")
    assert text.startswith("[DRILL] ")
    assert "Time to acknowledge, by class:" in text
    assert "• 3A: 3 of 4 acknowledged, median 4 min, 90% within 1 h 5 min" in text
    assert "• 3B: 0 of 2 acknowledged\n" in text + "\n"
