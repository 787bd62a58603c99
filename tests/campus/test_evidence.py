"""The evidence pack of a notice that went through everything: a reminder, a second
guardian, a new version, acknowledgements of both versions and the deadline report."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.evidence import EvidencePack, build_evidence, evidence_csv, evidence_json
from campus.models import Notice, Person, Student
from campus.services.audit import verify_chain
from campus.services.notices import revise_notice
from campus.services.reminders import plan_due_reminders
from tests.campus.notice_world import (
    MINUTE,
    ROSTER,
    T0,
    World,
    ack,
    drill_draft,
    make_world,
    publish,
    send,
)

HOUR = timedelta(hours=1)


async def _tick(sessionmaker: async_sessionmaker[AsyncSession], at: timedelta) -> None:
    async with sessionmaker() as session, session.begin():
        await plan_due_reminders(session, quiet_window=None, now=T0 + at)


async def _notice_through_its_deadline(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[World, int, int]:
    world = await make_world(sessionmaker)
    notice_id = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3A",))
    )
    other_id = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3B",))
    )
    await send(sessionmaker, notice_id, 101, T0 + MINUTE)
    await send(sessionmaker, notice_id, 103, T0 + MINUTE)
    await _tick(sessionmaker, 4 * HOUR + MINUTE)  # reminders to 101 and 103
    await send(sessionmaker, notice_id, 101, T0 + 4 * HOUR + 2 * MINUTE)
    await _tick(sessionmaker, 12 * HOUR + MINUTE)  # Wang Fang's second guardian is asked
    await send(sessionmaker, notice_id, 102, T0 + 12 * HOUR + 2 * MINUTE)
    await ack(sessionmaker, notice_id, 102, T0 + 12 * HOUR + 7 * MINUTE)
    async with sessionmaker() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        teacher = await session.get(Person, world.teacher_id)
        assert notice is not None and teacher is not None
        await revise_notice(
            session,
            teacher,
            notice,
            {"en": "Fire drill moved", "zh": "消防演练改期"},
            {"en": "{child}: now at 11:00.", "zh": "{child}：改为十一点。"},
            "new time",
            now=T0 + 13 * HOUR,
        )
    for telegram_id in (101, 102, 103):
        await send(sessionmaker, notice_id, telegram_id, T0 + 13 * HOUR + MINUTE)
    await ack(sessionmaker, notice_id, 103, T0 + 13 * HOUR + 20 * MINUTE)
    await _tick(sessionmaker, 24 * HOUR + MINUTE)  # the deadline report to the teacher
    await send(sessionmaker, notice_id, 1, T0 + 24 * HOUR + 2 * MINUTE)
    return world, notice_id, other_id


async def _pack(sessionmaker: async_sessionmaker[AsyncSession], notice_id: int) -> EvidencePack:
    async with sessionmaker() as session:
        pack = await build_evidence(session, notice_id)
    assert pack is not None
    return pack


async def test_pack_contents(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    world, notice_id, _other = await _notice_through_its_deadline(sessionmaker)
    pack = await _pack(sessionmaker, notice_id)
    teacher = f"person:{world.teacher_id}"
    assert pack.author == teacher and pack.classes == ("3A",) and pack.is_drill
    assert [(v.number, v.author) for v in pack.versions] == [(1, teacher), (2, teacher)]
    assert pack.versions[0].title == {"en": "Fire drill", "zh": "消防演练"}
    assert pack.versions[1].change_note == "new time"

    by_guardian = {r.guardian: r for r in pack.recipients}
    first = by_guardian[f"person:{world.guardians[101]}"]
    second = by_guardian[f"person:{world.guardians[102]}"]
    li_lei = by_guardian[f"person:{world.guardians[103]}"]
    assert [(m.purpose, m.version, m.state) for m in first.messages] == [
        ("notice", 1, "sent"),
        ("reminder", 1, "sent"),
        ("reminder", 1, "pending"),  # the second step's, still queued in this test
        ("update", 2, "sent"),
    ]
    assert all(m.telegram_message_id for m in first.messages if m.state == "sent")
    assert first.reminders_sent == 1 and first.first_guardian and not first.acknowledgements
    assert second.second_guardian_request_at == T0 + 12 * HOUR + MINUTE
    assert [m.purpose for m in second.messages] == ["notice", "update"]
    assert [(a.version, a.at) for a in second.acknowledgements] == [
        (1, T0 + 12 * HOUR + 7 * MINUTE)
    ]
    assert [(a.version, a.at) for a in li_lei.acknowledgements] == [
        (2, T0 + 13 * HOUR + 20 * MINUTE)
    ]

    report = pack.deadline_report
    assert report is not None and report.reported_at == T0 + 24 * HOUR + MINUTE
    # Only Li Lei's family confirmed the current version; Wang Fang's confirmed version 1.
    assert (report.families, report.acknowledged_by_deadline) == (3, 1)
    async with sessionmaker() as session:
        wang = await session.scalar(select(Student.id).where(Student.full_name == "Wang Fang"))
    assert f"student:{wang}" in report.not_acknowledged_by_deadline
    [message] = report.messages
    assert message.recipient == teacher and message.state == "sent"
    assert message.telegram_message_id is not None

    kinds = {e.kind for e in pack.ledger}
    assert {
        "notice.published",
        "outbox.notice.sent",
        "reminder.queued",
        "outbox.reminder.sent",
        "notice.second_guardian",
        "notice.acknowledged",
        "notice.revised",
        "outbox.update.sent",
        "notice.deadline_reached",
        "outbox.report.sent",
    } <= kinds
    assert all(e.payload["notice"] == notice_id for e in pack.ledger)
    assert [e.id for e in pack.ledger] == sorted(e.id for e in pack.ledger)


async def test_json_is_pseudonymous_and_records_the_chain_head(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world, notice_id, _other = await _notice_through_its_deadline(sessionmaker)
    pack = await _pack(sessionmaker, notice_id)
    raw = evidence_json(pack).decode("utf-8")
    names = ["Li Wei", "Wu Hua", "Zhang Min"]
    for children in ROSTER.values():
        for child, guardians in children.items():
            names.append(child)
            names += [f"Parent {child} {n}" for n in range(1, len(guardians) + 1)]
    assert [name for name in names if name in raw] == []
    document = json.loads(raw)
    assert document["pseudonymous"] is True
    assert document["notice"]["author"] == f"person:{world.teacher_id}"
    assert document["versions"][1]["body"]["zh"] == "{child}：改为十一点。"
    assert document["counts"]["families"] == 3
    assert {r["guardian"] for r in document["recipients"]} >= {
        f"person:{world.guardians[t]}" for t in (101, 102, 103)
    }
    async with sessionmaker() as session:
        chain = await verify_chain(session)
    assert chain.intact
    assert document["ledger"]["chain"] == {
        "entries": chain.entries,
        "head": chain.head,
        "intact": True,
        "first_bad_id": None,
        "problem": None,
    }
    hashes = [e["hash"] for e in document["ledger"]["entries"]]
    assert chain.head in hashes  # the report's sending was the last entry of all


async def test_csv_has_the_names_for_the_school(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notice_id, _other = await _notice_through_its_deadline(sessionmaker)
    data = evidence_csv(await _pack(sessionmaker, notice_id))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    wang_second = [r for r in rows if r["guardian_name"] == "Parent Wang Fang 2"]
    assert [r["event"] for r in wang_second] == [
        "second_guardian_request",
        "message",
        "message",
        "acknowledgement",
    ]
    assert {r["child_name"] for r in wang_second} == {"Wang Fang"}
    assert wang_second[0]["time"] == "2025-06-02T20:01:00+08:00"  # school time
    acknowledgement = wang_second[-1]
    assert (acknowledgement["version"], acknowledgement["state"]) == ("1", "older version")
    assert all(r["telegram_message_id"] for r in wang_second if r["event"] == "message")
    assert "Zhou Min" not in {r["child_name"] for r in rows}  # no guardian: nobody to tell
    # Chen Jing's guardian has no Telegram chat: listed all the same.
    [chen] = [r for r in rows if r["child_name"] == "Chen Jing"]
    assert chen["event"] == "not_sent" and chen["guardian_ref"].startswith("person:")


async def test_other_notices_stay_out_and_a_broken_chain_shows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notice_id, other_id = await _notice_through_its_deadline(sessionmaker)
    pack = await _pack(sessionmaker, notice_id)
    other = await _pack(sessionmaker, other_id)
    assert {e.id for e in pack.ledger}.isdisjoint(e.id for e in other.ledger)
    assert other.ledger and all(e.payload["notice"] == other_id for e in other.ledger)
    edited = pack.ledger[2].id
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE audit_events SET payload = :p WHERE id = :id"),
            {"p": json.dumps({"notice": notice_id, "forged": True}), "id": edited},
        )
    broken = await _pack(sessionmaker, notice_id)
    assert not broken.chain.intact and broken.chain.first_bad_id == edited
    assert json.loads(evidence_json(broken))["ledger"]["chain"]["intact"] is False


async def test_an_edited_version_text_no_longer_matches_the_ledger(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notice_id, _other = await _notice_through_its_deadline(sessionmaker)
    pack = await _pack(sessionmaker, notice_id)
    assert [v.matches_ledger for v in pack.versions] == [True, True]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE notice_versions SET body = :b WHERE notice_id = :n AND number = 1"),
            {"b": json.dumps({"en": "Nothing important."}), "n": notice_id},
        )
    edited = await _pack(sessionmaker, notice_id)
    assert [v.matches_ledger for v in edited.versions] == [False, True]
    versions = json.loads(evidence_json(edited))["versions"]
    assert [v["text_matches_ledger"] for v in versions] == [False, True]


async def test_pdf_summary(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    from campus.evidence_pdf import evidence_pdf, markup

    _world, notice_id, _other = await _notice_through_its_deadline(sessionmaker)
    pdf = evidence_pdf(await _pack(sessionmaker, notice_id))
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    # User text is escaped, never read as markup; Chinese runs get the Chinese font.
    assert markup("<b>Li</b> 王芳") == '&lt;b&gt;Li&lt;/b&gt; <font name="STSong-Light">王芳</font>'


async def test_unknown_notice(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        assert await build_evidence(session, 404) is None
