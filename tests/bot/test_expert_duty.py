"""An expert pauses, resumes and sets their hours; a paused expert or one outside their
hours is not offered questions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from campus.models import Expert, Person, Role, RoleGrant, School
from campus.services.cases import experts_on_call
from tests.bot.conftest import LiveBot


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000}


async def _expert(live: LiveBot) -> tuple[Any, int]:
    user = live.emu.create_user("Sun", language_code="en")
    async with live.sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary", timezone="UTC")
        session.add(school)
        await session.flush()
        person = Person(telegram_user_id=user.id, full_name="Sun Li", language="en")
        session.add(person)
        await session.flush()
        session.add(RoleGrant(person_id=person.id, school_id=school.id, role=Role.EXPERT))
        session.add(
            Expert(person_id=person.id, school_id=school.id, categories=["law"], languages=["en"])
        )
        return user, school.id


async def _on_call(live: LiveBot, school_id: int, at: datetime) -> list[str]:
    async with live.sessionmaker() as session:
        return [p.full_name for p in await experts_on_call(session, school_id, "law", "en", at)]


async def test_expert_pauses_resumes_and_sets_hours(live: LiveBot) -> None:
    user, school_id = await _expert(live)
    noon, night = datetime(2026, 6, 1, 12, tzinfo=UTC), datetime(2026, 6, 1, 23, tzinfo=UTC)
    status = await live.send(user, "/duty")
    assert "You are on duty." in status["text"] and "at any time" in status["text"]
    assert await _on_call(live, school_id, noon) == ["Sun Li"]

    paused = await live.press(user, status, "⏸ Pause")
    assert "paused" in paused["text"] and live.emu.button_texts(paused) == ["▶️ Resume"]
    assert await _on_call(live, school_id, noon) == []
    resumed = await live.press(user, paused, "▶️ Resume")
    assert "You are on duty." in resumed["text"]

    hours = await live.send(user, "/duty 08:00-20:00")
    assert "08:00-20:00" in hours["text"]
    assert await _on_call(live, school_id, noon) == ["Sun Li"]
    assert await _on_call(live, school_id, night) == []
    wrong = await live.send(user, "/duty after lunch")
    assert "HH:MM-HH:MM" in wrong["text"]
    async with live.sessionmaker() as session:
        expert = await session.scalar(select(Expert))
    assert expert is not None and expert.duty_hours == "08:00-20:00" and expert.on_duty
    await live.send(user, "/duty always")
    assert await _on_call(live, school_id, night) == ["Sun Li"]


async def test_duty_is_refused_to_others(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, "/duty 08:00-20:00")
    assert "/duty is for the school's experts" in reply["text"]
