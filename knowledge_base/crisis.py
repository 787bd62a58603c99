"""Crisis detection: signs of suicide, self-harm or abuse, in English and Chinese.

Crisis messages read like ordinary questions to a retriever (a farewell text, a missing
bottle of pills), so retrieval alone catches few of them. This detector looks for the
recognised warning signs instead: talk of wanting to die, a method or means at hand,
farewells and giving things away, injuries a child caused themself, and a child hurt or
touched by an adult. It runs before retrieval, and its reply does not depend on retrieval
confidence.

False alarms are kept down in two ways. Cues are about a person ("wants to die",
"割腕", "dad beats him ... bruises"), not a subject: "the Anti-Domestic Violence Law",
"drowning prevention" and "what if my child is bullied" are questions, not crises; a
bare mention of suicide or self-harm is left to retrieval (the self-harm entry is itself
urgent, see ``knowledge_base.policy``). And the few cues that are single words (猥亵,
"molested") do not fire when the message is plainly general (prevention, the law).
Violence between children is bullying, not this detector's business.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

CrisisKind = Literal["self_harm", "abuse"]


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    """Why a message was taken as a crisis: the kind and the cue that matched."""

    kind: CrisisKind
    cue: str
    matched: str


@dataclass(frozen=True, slots=True)
class _Cue:
    name: str
    kind: CrisisKind
    pattern: re.Pattern[str]
    #: single-word cues: ignored when the message is about prevention or the law
    word_only: bool


# --- English -------------------------------------------------------------------------
_SELF = r"(?:(?:my|him|her|them|your|our)sel(?:f|ves)|themself)"
_POSS = r"(?:his|her|their|my)"
_CHILD_OBJ = r"(?:him|her|them|my\s+\w+|our\s+\w+|the\s+(?:kid|child|boy|girl))"
_ADULT = (
    r"(?:teacher|coach|tutor|uncle|aunt|step-?dad|step-?father|step-?mother|step-?mom|"
    r"father|dad|daddy|mother|mom|mum|grandpa|grandfather|grandma|neighbou?r|man|woman|"
    r"adult|driver|cousin|boyfriend|girlfriend|relative|babysitter|nanny|priest|doctor|"
    r"husband|wife|partner|ex)"
)
_PILLS = r"(?:pills?|tablets?|medicines?|medication|meds|painkillers?|paracetamol|sleeping\s+pills)"

_EN: list[tuple[str, CrisisKind, bool, str]] = [
    # talk of wanting to die or to end one's life
    (
        "wants_to_die",
        "self_harm",
        False,
        r"\b(?:wants?|wanted|wanting|going|planning|plans?|tried|trying|try|thinking\s+about)"
        r"\s+(?:to\s+)?(?:die|dying|kill(?:ing)?\s+"
        + _SELF
        + r"|end(?:ing)?\s+(?:it\s+all|"
        + _POSS
        + r"\s+(?:own\s+)?life))\b",
    ),
    (
        "wants_to_die",
        "self_harm",
        False,
        r"\b(?:(?:do|does|did)\s*(?:n't|not)|never|no\s+longer)\s+(?:want|wants|wish|wishes)\s+"
        r"to\s+(?:live|be\s+alive|wake\s+up|exist|be\s+here|be\s+around)",
    ),
    (
        "wants_to_die",
        "self_harm",
        False,
        r"\b(?:kill(?:ed|ing|s)?|hang(?:ed|ing|s)?|hurt(?:ing|s)?|harm(?:ed|ing|s)?|"
        r"cut(?:ting|s)?|burn(?:ed|ing|s|t)?|starv(?:e|ed|ing))\s+" + _SELF + r"\b",
    ),
    (
        "wants_to_die",
        "self_harm",
        False,
        r"\b(?:(?:is|was|been|being|seems?|sounds?|became|got|feels?|felt)\s+(?:\w+\s+)?suicidal"
        r"|(?:has|have|had|having)\s+suicidal\s+(?:thoughts|feelings|ideas)"
        r"|(?:attempt(?:ed|s)?|tried|trying|threaten(?:ed|s|ing)?)\s+(?:to\s+commit\s+)?suicide"
        r"|(?:is|has\s+been|been|started|keeps?|keep)\s+(?:self[-\s]?harming|cutting))\b",
    ),
    (
        "wants_to_die",
        "self_harm",
        False,
        r"\b(?:no\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|go(?:ing)?\s+on)"
        r"|can'?t\s+go\s+on\s+(?:any\s?more|like\s+this|living)"
        r"|(?:want|wants|wanted)\s+(?:it\s+)?(?:all\s+)?(?:it\s+)?to\s+(?:all\s+)?end\b"
        r"|better\s+off\s+(?:dead|without\s+(?:me|him|her|them))"
        r"|wish(?:es|ed)?\s+(?:i|he|she|they)\s+(?:was|were|had\s+never\s+been)\s+(?:dead|born)"
        r"|(?:life|living)\s+(?:is|isn'?t)\s+(?:not\s+)?(?:worth\s+living|pointless|meaningless)"
        r"|tired\s+of\s+(?:living|being\s+alive|life)|(?:want|wants)\s+to\s+disappear\s+forever)",
    ),
    # a method or the means at hand
    (
        "means",
        "self_harm",
        False,
        r"\b(?:overdos(?:e|ed|ing)\b|(?:swallow(?:ed)?|took|taken|take|ate)\s+(?:a\s+)?"
        r"(?:whole|all|handful|lot|bottle|bunch|box|pack|packet)\b[^.?!]{0,30}\b" + _PILLS + r")",
    ),
    (
        "means",
        "self_harm",
        False,
        r"\b" + _PILLS + r"\b[^.?!]{0,40}\b(?:is|are|went|gone|has\s+gone|have\s+gone)\s+"
        r"(?:missing|gone|empty)\b|\b(?:missing|empty)\s+(?:bottle|box|pack)\s+of\s+" + _PILLS,
    ),
    (
        "means",
        "self_harm",
        False,
        r"\b(?:search(?:ed|es|ing)?|googl(?:ed|es|ing)|look(?:ed|ing)?\s+up|ask(?:ed|s|ing)?)"
        r"\b[^.?!]{0,40}\bhow\s+(?:to|many|much|long)\b[^.?!]{0,30}"
        r"\b(?:die|dying|kill|overdose|pills|painless|hang|lethal|fatal)\b",
    ),
    ("means", "self_harm", False, r"\b(?:painless|quick(?:est)?|easiest)\s+ways?\s+to\s+die\b"),
    (
        "means",
        "self_harm",
        False,
        r"\b" + _PILLS + r"\b[^.?!]{0,40}\b(?:won'?t\s+wake\s+up|can'?t\s+wake\s+(?:him|her|them)"
        r"|unconscious|unresponsive|passed\s+out)",
    ),
    (
        "means",
        "self_harm",
        False,
        r"\b(?:on|at|over|onto)\s+(?:the\s+)?(?:edge|ledge|railing|rail|roof|rooftop|parapet)"
        r"\b[^.?!]{0,60}\b(?:jump|won'?t\s+come\s+(?:down|back|in)|refus\w*\s+to\s+come)",
    ),
    (
        "means",
        "self_harm",
        False,
        r"\b(?:he|she|they|i)\s*(?:'ll|will|'d|would|is\s+going\s+to|are\s+going\s+to|"
        r"wants?\s+to|threaten\w*\s+to)\s+jump\b(?!\s+(?:rope|on|in|into|over|up|high|around|"
        r"the\s+queue|ahead|the\s+gun))",
    ),
    (
        "means",
        "self_harm",
        False,
        r"\bjump\s+(?:off|from)\s+(?:the\s+|a\s+)?(?:roof|bridge|"
        r"building|balcony|window|tower|cliff)\b(?![^.?!]{0,30}\b(?:safe|prevent|guard))",
    ),
    # farewells and putting affairs in order
    (
        "farewell",
        "self_harm",
        False,
        r"\b(?:suicide|goodbye|farewell)\s+(?:note|letter|message|video|post|text)\b",
    ),
    (
        "farewell",
        "self_harm",
        False,
        r"\b(?:giv(?:es|ing|en)|gave)\s+away\s+(?:all\s+)?(?:of\s+)?" + _POSS + r"\s+"
        r"(?:\w+\s+){0,2}(?:things|stuff|belongings|possessions|toys|clothes|games|treasures)\b",
    ),
    (
        "farewell",
        "self_harm",
        False,
        r"\b(?:said|saying|says|say)\s+(?:good\s?-?bye|farewell)\b[^.?!]{0,40}"
        r"\b(?:forever|as\s+if|like\s+(?:she|he|they)\s+(?:was|were)\s+(?:leaving|going)|for\s+good)",
    ),
    (
        "farewell",
        "self_harm",
        False,
        r"\blast\s+(?:day|night)\s+(?:on\s+earth|alive|of\s+" + _POSS + r"\s+life)\b"
        r"|\b(?:this|today|tonight)\s+(?:is|will\s+be)\s+" + _POSS + r"\s+last\s+(?:day|night)\b"
        r"(?!\s+(?:at|of|in|before|with))",
    ),
    (
        "farewell",
        "self_harm",
        False,
        r"\b(?:won'?t|will\s+not|never)\s+(?:be\s+around\s+(?:any\s?more|much\s+longer|for\s+long)"
        r"|see\s+(?:you|me|us|them)\s+(?:ever\s+)?again)\b",
    ),
    ("farewell", "self_harm", False, r"\bsorry\s+for\s+everything\b"),
    # injuries the child caused themself
    (
        "self_injury",
        "self_harm",
        False,
        r"\b(?:cuts|scars|slashes|cut\s+marks|lines)\b[^.?!]{0,30}\b(?:on|all\s+over|across)\s+"
        + _POSS
        + r"\s+(?:arms?|wrists?|thighs?|forearms?|stomach)\b",
    ),
    (
        "self_injury",
        "self_harm",
        False,
        r"\b(?:cut|slit|slash(?:ed)?)\s+" + _POSS + r"\s+(?:wrists?|arms?)\b",
    ),
    # abuse: a child hurt or touched by an adult
    (
        "sexual_abuse",
        "abuse",
        True,
        r"\b(?:molest(?:ed|ing|s)?|rap(?:ed|ing)|sexually\s+(?:abus|assault|touch)\w*|grop(?:ed|ing)"
        r"|fondl(?:ed|ing))\b",
    ),
    (
        "sexual_abuse",
        "abuse",
        False,
        r"\b(?:touch(?:ed|es|ing)?|rubb(?:ed|ing)|feel(?:s|ing)?\s+up)\s+"
        + _CHILD_OBJ
        + r"\b[^.?!]{0,30}\b(?:private|privates|genitals?|down\s+there|breasts?|chest|bottom|"
        r"under\s+" + _POSS + r"\s+(?:clothes|pants|skirt|underwear|shirt))",
    ),
    (
        "sexual_abuse",
        "abuse",
        False,
        r"\b" + _ADULT + r"\b[^.?!]{0,40}\b(?:made|makes|make|asked|asks|forced|forces|told|tells)"
        r"\s+" + _CHILD_OBJ + r"\s+(?:to\s+)?(?:undress|take\s+off\s+" + _POSS + r"|touch\s+his"
        r"|touch\s+her|keep\s+(?:it\s+)?(?:a\s+|our\s+)?secret|send\s+(?:nude|naked))",
    ),
    (
        "physical_abuse",
        "abuse",
        False,
        r"\b" + _ADULT + r"\b[^.?!]{0,30}\b(?:beat(?:s|en|ing)?|hit(?:s|ting)?|kick(?:s|ed|ing)?|"
        r"punch(?:es|ed|ing)?|chok(?:es|ed|ing)|burn(?:s|ed|t)|whip(?:s|ped|ping)?|slap(?:s|ped)?"
        r"|strangl\w*)\s+" + _CHILD_OBJ + r"\b[^.?!]{0,60}"
        r"\b(?:bruis\w*|bleed\w*|blood|black\s+and\s+blue|hospital|every\s+day|all\s+the\s+time|"
        r"belt|stick|broken|marks|scared\s+to\s+go\s+home|won'?t\s+stop)",
    ),
    (
        "physical_abuse",
        "abuse",
        False,
        r"\b(?:bruises?|burns?|welts|marks|injuries)\b[^.?!]{0,50}\b(?:says?|said|told\s+me)\b"
        r"[^.?!]{0,40}\b" + _ADULT + r"\b[^.?!]{0,20}\b(?:hit|beat|did\s+(?:it|this)|hurt)\b",
    ),
    (
        "physical_abuse",
        "abuse",
        False,
        r"\b(?:is|was|are|were|been|being|gets|got)\s+(?:regularly\s+|often\s+|always\s+)?"
        r"(?:beaten|abused|burned|starved)\s+(?:by\s+(?:his|her|their|my|our|a|the)?\s*"
        + _ADULT
        + r"|at\s+home)\b",
    ),
]

# --- Chinese -------------------------------------------------------------------------
_ZH_ADULT = (
    r"(?:老师|教练|叔叔|伯伯|舅舅|姑父|姨父|继父|后爸|后妈|继母|爸爸|他爸|她爸|孩子爸|妈妈|他妈|"
    r"她妈|爷爷|外公|姥爷|奶奶|邻居|大人|男人|成年人|亲戚|司机|保安|家教|保姆|表哥|堂哥|男的|"
    r"陌生人|老公|前夫|丈夫)"
)
_ZH_CHILD = r"(?:她|他|孩子|女儿|儿子|闺女|小孩)"
_ZH: list[tuple[str, CrisisKind, bool, str]] = [
    (
        "wants_to_die",
        "self_harm",
        False,
        r"不想活|活着没(?:意思|意义|劲)|活着(?:好|太|真)累|活不下去|(?<![猜理])想(?:要)?死|想去死|"
        r"不如死了|死了算了|死了(?:就|也)?(?:好了|解脱)|寻死|想(?:要)?自杀|要自杀|闹自杀|"
        r"试图自杀|自杀未遂|结束(?:自己的)?生命|不想(?:再)?(?:醒来|活下去|存在)|想(?:永远)?消失|"
        r"没有我(?:你们)?(?:会)?更好|(?:我|他|她)是(?:家里的)?(?:累赘|负担)|了结(?:自己|生命)|"
        r"一了百了",
    ),
    (
        "self_injury",
        "self_harm",
        False,
        r"割腕|割(?:了|伤|破)?(?:自己|手腕|手臂|胳膊|大腿)|(?:手腕|胳膊|手臂|大腿)(?:上)?(?:有)?"
        r"(?:好几|几|很多|一)?(?:道|条)?(?:刀口|口子|划痕|割痕|伤痕)|划(?:伤|破)?(?:自己|手腕|胳膊)|"
        r"(?:用|拿)(?:刀|刀片|美工刀|圆规)(?:片)?(?:割|划|扎)(?:自己|手)",
    ),
    ("self_injury", "self_harm", True, r"自残|自伤|伤害自己"),
    (
        "means",
        "self_harm",
        False,
        r"跳楼|跳河|跳江|跳桥|要跳下去|跳下去|(?:楼顶|天台|阳台|窗台|桥上|栏杆)(?:的)?(?:边|上)"
        r"[^。！？]{0,12}(?:不(?:肯|愿意?)下来|要跳|说要)|上吊|(?:吃|吞)了?(?:一整瓶|整瓶|一瓶|"
        r"很多|一把|好多|大量)(?:的)?(?:药|安眠药|药片)|(?:安眠药|药)(?:瓶)?(?:不见了|少了|空了)|"
        # 把-construction: "把一盒安眠药吞了"
        r"把(?:(?:一整瓶|整瓶|一瓶|一盒|整盒|很多|一把|好多|所有)(?:的)?(?:安眠)?药(?:片|丸)?"
        r"(?:都|全)?|(?:家里的|所有的)?(?:安眠)?药(?:片|丸)?(?:都|全))(?:吃|吞|喝)(?:了|下|光)|"
        r"(?:药|农药)[^。！？]{0,15}(?:叫不醒|昏迷|昏过去|没(?:有)?意识|没反应)|"
        r"(?:搜|查|问)[^。！？]{0,10}(?:怎么死|怎样死|如何自杀|死(?:得|的)?(?:快|不痛|不疼)|"
        r"吃多少(?:片)?(?:药|安眠药)(?:会|能)死)|怎么死才|烧炭|喝(?:了)?(?:农药|药水|消毒液)",
    ),
    (
        "farewell",
        "self_harm",
        False,
        r"遗书|遗言|绝笔|交代后事|下辈子|永别|来世|以后(?:再也)?见不(?:到|着)|再也见不到|"
        r"(?:东西|玩具|心爱的|喜欢的|宝贝)[^。！？]{0,8}(?:都|全)(?:部)?送|"
        r"像(?:是)?(?:在)?(?:告别|道别|交代)|(?:告别|道别)(?:似的|一样)",
    ),
    ("sexual_abuse", "abuse", True, r"猥亵|性侵|强奸|性骚扰"),
    (
        "sexual_abuse",
        "abuse",
        False,
        r"被(?:人)?摸(?:了)?(?:隐私|私处|下体|胸|屁股)|"
        r"(?:摸|碰|亲)(?:了|过)?" + _ZH_CHILD + r"?(?:的)?(?:隐私部位|私处|下体|胸部?|屁股)|"
        r"脱" + _ZH_CHILD + r"的?(?:衣服|裤子)|" + _ZH_ADULT + r"[^。！？]{0,12}(?:摸|亲|抱)"
        r"[^。！？]{0,6}"
        + _ZH_CHILD
        + r"[^。！？]{0,10}(?:(?:不让|不许|别|不要)(?:她|他|孩子)?(?:说|告诉|讲)|保密|秘密|"
        r"隐私|下面|裤子|衣服里)",
    ),
    (
        "physical_abuse",
        "abuse",
        False,
        r"被" + _ZH_ADULT + r"[^。！？]{0,6}打(?:得|到|成|伤|出)[^。！？]{0,10}"
        r"(?:血|伤|青|紫|肿|骨折|住院|不敢回家|鼻青脸肿)|" + _ZH_ADULT + r"[^。！？]{0,10}"
        r"(?:天天|经常|总是|每天|一直|往死里)(?:都)?(?:打|揍|掐|踢|虐待|用皮带抽)"
        + _ZH_CHILD
        + r"|"
        + _ZH_CHILD
        + r"(?:被|遭)(?:家暴|虐待)|家暴"
        + _ZH_CHILD,
    ),
]

_GENERAL_FRAMING = re.compile(
    r"\b(?:prevent\w*|teach\w*|explain\w*|warning\s+signs?|law|laws|legal|illegal|penalt\w*|"
    r"sentenc\w*|statistics|report(?:ing)?\s+(?:it|abuse|a\s+case)|what\s+(?:is|are|does))\b"
    r"|预防|防范|防止|防(?:性侵|猥亵|骚扰|拐)|怎么教|如何教|教育孩子|法律|法规|规定|判刑|处罚|怎么判|如何报告|什么是|科普"
    r"|倾向|迹象|征兆|信号|怎么判断|如何判断|怎么看出",
    re.IGNORECASE,
)


def _compile(table: list[tuple[str, CrisisKind, bool, str]], flags: int) -> list[_Cue]:
    return [
        _Cue(name, kind, re.compile(pattern, flags), word_only)
        for name, kind, word_only, pattern in table
    ]


_CUES: list[_Cue] = _compile(_EN, re.IGNORECASE) + _compile(_ZH, 0)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # curly apostrophes -> ', so "won’t" matches the same patterns as "won't"
    return text.replace("\u2019", "'").replace("\u2018", "'")


def detect_crisis(text: str) -> CrisisSignal | None:
    """Return the first crisis sign found in ``text``, or None for an ordinary question."""
    normalized = _normalize(text)
    general = _GENERAL_FRAMING.search(normalized) is not None
    for cue in _CUES:
        if cue.word_only and general:
            continue
        match = cue.pattern.search(normalized)
        if match:
            return CrisisSignal(kind=cue.kind, cue=cue.name, matched=match.group())
    return None
