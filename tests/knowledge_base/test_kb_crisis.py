"""The crisis detector: bilingual warning signs, and look-alike questions that are not."""

from __future__ import annotations

import pytest

from knowledge_base.crisis import detect_crisis

SELF_HARM = [
    "my son told me tonight that he wants to kill himself",
    "she keeps saying she doesn't want to be alive anymore",
    "I found fresh cuts on her wrists and blood in the sink",
    "he swallowed a whole bottle of pills and is very sleepy",
    "my daughter is standing on the roof edge and says she will jump",
    "he wrote a goodbye letter and took his bike, I can't reach him",
    "my teen has been giving away all her favourite things to classmates",
    "he's been searching how many painkillers it takes to die",
    "my kid said we'd all be better off without him",
    "孩子说不想活了，一直在哭",
    "女儿在房间里割腕了",
    "儿子说要从阳台跳下去",
    "孩子把一整瓶安眠药都吞了",
    "在孩子枕头下发现了遗书",
    "孩子说活着没意思，想消失",
]
ABUSE = [
    "my daughter says her piano teacher touched her private parts",
    "a neighbour made my son take off his clothes and keep it a secret",
    "her stepfather beats her with a belt, she has bruises on her legs",
    "女儿说补课老师摸她，还不让她告诉别人",
    "孩子被他爸打得鼻青脸肿，不敢回家",
    "后妈经常打孩子",
]
ORDINARY = [
    "drowning prevention tips for the summer",
    "what if my child is bullied at school",
    "what does the Anti-Domestic Violence Law say about children",
    "what are the warning signs of self-harm in teenagers",
    "how do I teach my child about body safety and private parts",
    "how do I prevent my child from being molested",
    "my toddler hits his head on the floor when he is angry",
    "my son says he will die of boredom if he has to read another book",
    "she wants to jump into the pool from the high board",
    "what should I do after my son cut his finger with a knife",
    "it's his last day at primary school tomorrow",
    "防溺水有哪些注意事项",
    "孩子被同学欺负了怎么办",
    "反家庭暴力法有哪些规定",
    "怎么预防孩子被性侵",
    "孩子考试没考好，回家不敢说",
    "把药吃了再睡觉，孩子总忘",
    "假期最后一天作业还没写完",
    "孩子跟幼儿园老师告别的时候哭了",
]


@pytest.mark.parametrize("text", SELF_HARM)
def test_self_harm_signs_are_detected(text: str) -> None:
    signal = detect_crisis(text)
    assert signal is not None, text
    assert signal.kind == "self_harm"


@pytest.mark.parametrize("text", ABUSE)
def test_abuse_signs_are_detected(text: str) -> None:
    signal = detect_crisis(text)
    assert signal is not None, text
    assert signal.kind == "abuse"


@pytest.mark.parametrize("text", ORDINARY)
def test_look_alike_questions_are_not_crises(text: str) -> None:
    assert detect_crisis(text) is None


def test_curly_apostrophes_are_understood() -> None:
    assert detect_crisis("he says he won’t be around much longer") is not None


def test_signal_names_the_cue() -> None:
    signal = detect_crisis("孩子说不想活了")
    assert signal is not None
    assert signal.cue == "wants_to_die"
    assert signal.matched == "不想活"
