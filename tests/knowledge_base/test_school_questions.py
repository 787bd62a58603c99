"""Which questions go to the class teacher rather than an expert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.school_questions import is_school_question

CALIBRATION = Path(__file__).resolve().parents[2] / "knowledge_base" / "calibration"

# Written for this test, one or two per kind of school matter.
SCHOOL_MATTERS = [
    # calendar and timetable
    "when does the spring term start after the new year",
    "what time does school finish on wednesdays",
    "could you send me the grade 2 timetable",
    "is there school on monday or is it a holiday",
    "what is the pick-up time for the early years class",
    # fees and things to buy
    "how much are the school fees for next term",
    "when do I have to pay for the museum trip",
    "where do we buy the english workbook",
    "do we pay a deposit for the ski camp",
    "does my son need a winter uniform or just the tracksuit",
    # lost property
    "my boy lost his blue jumper in the gym, is there a lost property box",
    "has anyone handed in a red umbrella",
    # canteen
    "what's on the lunch menu on thursday",
    "is the canteen serving noodles tomorrow",
    # events
    "what time does sports day begin",
    "is the class trip to the zoo still happening on friday",
    "when is the parent-teacher meeting for grade 5",
    # enrolment and admin
    "how do we enrol our younger daughter for september",
    "can you tell me who is the maths teacher in class 3B",
    "where is the school office and what is its phone number",
    "how do I sign my son up for the after-school art club",
    # homework and exam dates
    "what homework did they get for the weekend",
    "when is the chinese test this month",
    # Chinese
    "下学期几号开学",
    "周三几点放学",
    "这学期的学杂费怎么交",
    "校服在哪里买，多少钱一套",
    "孩子的跳绳落在操场上了，有人看到吗",
    "明天食堂吃什么",
    "运动会是哪天",
    "家长会几点开始",
    "一年级怎么报名，要带什么材料",
    "孩子明天发烧要请假，找谁",
    "数学老师今天布置了什么作业",
    "期末考试是几号",
]

# Questions for experts that mention school, fees, teachers or lunch in passing.
EXPERT_MATTERS = [
    "my son is being bullied at school, what are my rights",
    "the teacher hit my daughter in class, is that legal",
    "who pays the medical bills if my child is hurt in PE",
    "my child is so anxious before exams that she cannot sleep",
    "how can I help my son with homework without shouting",
    "what should a 10 year old eat for lunch to stay healthy",
    "is it safe for my child to take the school bus alone",
    "my daughter refuses to go to school every morning",
    "my landlord will not give back my deposit",
    "孩子在学校被同学欺负了怎么办",
    "老师体罚学生违法吗",
    "孩子一考试就紧张，晚上睡不着",
    "开学前孩子很焦虑，怎么帮他",
    "放假了孩子总想去河边玩水，我该怎么叮嘱他",
    "孩子午饭总是不吃蔬菜怎么办",
]


@pytest.mark.parametrize("question", SCHOOL_MATTERS)
def test_school_matters_go_to_the_teacher(question: str) -> None:
    assert is_school_question(question)


@pytest.mark.parametrize("question", EXPERT_MATTERS)
def test_expert_matters_stay_with_the_experts(question: str) -> None:
    assert not is_school_question(question)


def test_almost_no_knowledge_base_question_is_taken_for_a_school_matter() -> None:
    """The calibration questions that have an answer in the knowledge base, and the crisis
    messages, are expert matters; at most one in a hundred may be misrouted."""
    rows = [
        json.loads(line)
        for line in (CALIBRATION / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    for_experts = [row["q"] for row in rows if row["kind"] in ("in_scope", "crisis")]
    assert len(for_experts) > 400
    misrouted = [q for q in for_experts if is_school_question(q)]
    assert len(misrouted) <= len(for_experts) // 100, misrouted
