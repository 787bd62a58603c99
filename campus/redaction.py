"""Best-effort redaction of personal data in a parent's words before an expert reads them.

:func:`redact` replaces names, phone numbers, ID and bank card numbers, addresses, e-mail
addresses, usernames, identifying links and car plates in English and Chinese text with
readable tokens (``[name]``, ``[phone]``...). It works from shapes and cues, not from a
language model: a number shaped like a mobile number, an ID number with its checksum,
"my name is ...", "我叫...", a street address, and the names the school already knows
(``known_names``). A name written without any cue and not on the known list passes
through; docs/redaction.md lists what is caught and what is not.

Each kind of thing is found by one entry of :data:`_RULES` (a pattern, compiled once, and
an optional check); Chinese addresses are assembled from their parts by
:func:`_chinese_addresses`. Overlapping finds are merged, then each is replaced once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["TOKENS", "Redaction", "redact"]

TOKENS: Mapping[str, str] = MappingProxyType(
    {
        "name": "[name]",
        "phone": "[phone]",
        "id_number": "[ID number]",
        "bank_card": "[card]",
        "address": "[address]",
        "email": "[email]",
        "telegram": "[username]",
        "messenger_id": "[username]",
        "url_with_id": "[link]",
        "plate": "[plate]",
    }
)


@dataclass(frozen=True)
class Redaction:
    """A redacted text and how many things of each kind were replaced in it."""

    text: str
    found: Mapping[str, int]


def _words(text: str) -> tuple[str, ...]:
    """A word list written as one space-separated string, so long lists stay readable."""
    return tuple(text.split())


# Chinese keyboards type full-width ASCII (１３８, ＠, ：). Each maps onto exactly one ASCII
# character, so the patterns run on the folded text and its positions hold in the original.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_CJK = "\u3400-\u9fff"
_B = r"(?<![A-Za-z0-9_])"  # an ASCII word starts here (\b fails next to CJK)
_CUE_END = r"\s*(?::|#|是|is\b)?\s*"  # "电话：", "phone is ", "ID #"

# --- English names after a cue ---------------------------------------------------------
# Capitalised words that follow "I am", "this is", "Mr" and the like without being names.
_NOT_NAMES = _words(
    "I A An The And Or But So Not No Yes Also Just Here There Very Really Now Still Only "
    "From In At On Of To For With By About Grade Class Year Form Article Room Unit "
    "Mr Mrs Ms Miss Dr Teacher Parent Mother Father Mom Mum Dad Student Principal Police "
    "School Primary Middle High Chinese English American British Canadian Australian French "
    "German Japanese Korean Indian Russian Muslim Christian Buddhist Catholic Jewish "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March July "
    "September October November December Worried Sorry Writing Concerned Afraid Scared Happy "
    "Glad Sure Unsure New Your My His Her Their Our It We They He She You What Why How When "
    "Where Who Which Please Thanks Thank Hello Hi Dear Sir Madam"
)
# One capitalised name word: Anna, O'Brien, Mary-Jane (not the "'s" of "Tom's").
_NAME_WORD = (
    rf"(?!(?:{'|'.join(_NOT_NAMES)})(?![A-Za-z]))"
    r"[A-Z](?:[a-z]+|(?=['’][A-Z]))(?:['’][A-Z][a-z]+|-[A-Z]?[a-z]+)*"
)
_EN_NAME = rf"(?P<hit>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})"

# --- Chinese names after a cue ---------------------------------------------------------
# Words and characters that end a name: a cue like "我儿子叫小明今年九岁" must stop at 今年.
_NAME_STOP_WORDS = _words(
    "家长 家里 今天 昨天 明天 现在 今年 已经 可以 因为 所以 如果 但是 一起 时候 上学 放学 学校 "
    "班上 年级 什么 怎么 平时 经常 总是 最近 一直 真的 同学 老师 妈妈 爸爸 孩子"
)
_NAME_STOP_CHARS = (
    "的地得了着过是在和与跟及或也都就还又很太最我你他她它们这那个些妈爸爷奶姥姨叔伯哥姐弟妹"
    "儿女孩说问请吗呢吧啊呀哦嗯不没被把给对从到去来起上下里外后前会能要想让叫今昨刚才已非特突竟"
    "打骂推踢欺哭抢偷咬摸拿跑走看做用"
)
_GIVEN_CHAR = rf"(?:(?!{'|'.join(_NAME_STOP_WORDS)}|[{_NAME_STOP_CHARS}])[{_CJK}])"
# Common surnames, used where a cue alone ("我是", "同学") would catch ordinary words.
_SURNAME = (
    "(?:欧阳|司马|诸葛|上官|司徒|东方|慕容|夏侯|皇甫|尉迟|公孙|长孙|宇文|令狐|"
    "[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范廖贾夏韦邹孟熊秦邱尹薛闫段侯陶黎贺顾郝龚邵钱严覃莫孔汤])"
)
# Ordinary words that start with one of those surnames ("孩子安全", "老师关心", "我是高中生").
_NOT_NAME_STARTS = _words(
    "安全 周末 高兴 高中 高考 高烧 马上 方面 曾经 许多 任何 任性 任务 严重 严厉 严格 严肃 "
    "于是 谢谢 胡闹 胡说 何时 程度 范围 夏天 钱包 熊孩子 单亲 黄色 陆续 杜绝 顾虑 孙子 孙女"
)


def _not_a_word(hit: str) -> bool:
    return not hit.startswith(_NOT_NAME_STARTS)


# --- numbers ---------------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _luhn_ok(text: str) -> bool:
    digits = [int(char) for char in _digits(text)]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * digit, 10)) for digit in digits[-2::-2]]
    return bool(digits) and (sum(odd) + sum(even)) % 10 == 0


def _id_checksum_ok(text: str) -> bool:
    """The check character of an 18-character Chinese resident ID number (GB 11643)."""
    chars = text.replace(" ", "").upper()
    total = sum(int(char) * weight for char, weight in zip(chars[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == chars[17]


def _resident_id(text: str) -> bool:
    # A valid checksum settles it; a bad one is still an ID typed wrong, unless the number is
    # a valid bank card (the card rule below takes it).
    return _id_checksum_ok(text) or not _luhn_ok(text)


def _phone_digits(text: str) -> bool:
    return 7 <= len(_digits(text)) <= 15 and _not_a_service_line(text)


def _international_digits(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15


def _not_a_service_line(text: str) -> bool:
    # 400/800 numbers are companies' and hotlines' lines, not a person's.
    return not _digits(text).startswith(("400", "800"))


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _messenger_id(text: str) -> bool:
    # "WeChat: zhang_88" or "QQ 12345678"; a plain word ("WeChat group") is not an id.
    return text.isdigit() or any(char.isdigit() or char in "_-" for char in text)


def _plate(text: str) -> bool:
    return sum(char.isdigit() for char in text) >= 3


_URL_WITH_ID = re.compile(
    r"[?&#](?:id|uid|user|userid|user_id|openid|phone|mobile|tel|email|name|account|token)="
    r"|/(?:u|user|users|profile|people|member|members|home)/[^/?#]",
    re.IGNORECASE,
)


def _url_has_id(text: str) -> bool:
    return _URL_WITH_ID.search(text) is not None


def _email_domain_ok(text: str) -> bool:
    tld = text.rsplit(".", 1)[-1]
    return len(tld) >= 2 and tld.isalpha()


@dataclass(frozen=True)
class _Rule:
    """One kind of thing to find. The named group ``hit``, when the pattern has one, is what
    gets replaced; the cue around it ("my name is", "电话：") stays, so the sentence still
    reads."""

    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None


def _rule(kind: str, regex: str, accept: Callable[[str], bool] | None = None) -> _Rule:
    return _Rule(kind, re.compile(regex), accept)


# Order matters only for ties: when two rules find exactly the same text, the earlier wins.
_RULES: tuple[_Rule, ...] = (
    # e-mail before usernames, so "zhang@qq.com" is one e-mail
    _rule(
        "email",
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}"
        r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}",
        _email_domain_ok,
    ),
    # t.me links and tg:// links, then @usernames (Telegram allows 5-32 characters)
    _rule("telegram", r"(?<![A-Za-z0-9_.])(?:https?://)?(?:t|telegram)\.me/[A-Za-z0-9_+/-]{1,100}"),
    _rule("telegram", rf"{_B}tg://[A-Za-z0-9_?=&./-]{{1,200}}"),
    _rule("telegram", r"(?<![A-Za-z0-9_.@])@[A-Za-z][A-Za-z0-9_]{3,31}(?![A-Za-z0-9_])"),
    _rule(
        "telegram",
        rf"{_B}(?i:telegram|tg)\s*(?:(?i:username|user name|handle|id)|用户名|账号)?\s*(?::|是)\s*"
        r"@?(?P<hit>[A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])",
    ),
    # Chinese resident ID: 18 characters (the last may be X), or the old 15 digits
    _rule(
        "id_number",
        r"(?<![0-9A-Za-z])\d{6} ?\d{8} ?\d{3}[\dXx](?![0-9A-Za-z])",
        _resident_id,
    ),
    _rule(
        "id_number",
        r"(?<![0-9A-Za-z])[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])",
    ),
    # passports and ID cards of Hong Kong, Macau, Taiwan and elsewhere: E12345678, A123456(7)
    _rule("id_number", r"(?<![0-9A-Za-z])[A-Z]{1,2}\d{6,9}(?:\([0-9A]\))?(?![0-9A-Za-z])"),
    _rule(
        "id_number",
        r"(?:身份证号码|身份证号|身份证|证件号码|证件号|护照号码|护照号|护照|学籍号|学号|"
        rf"{_B}(?i:ID card number|ID number|ID no\.?|ID card|passport number|passport no\.?|"
        r"passport|student number|student ID|student no\.?))"
        rf"{_CUE_END}(?P<hit>[A-Za-z0-9][A-Za-z0-9-]{{4,19}})(?![A-Za-z0-9])",
        _has_digit,
    ),
    # bank cards: 16-19 digits that pass the Luhn check, or any long number after a cue
    _rule("bank_card", r"(?<!\d)\d{4}(?:[ -]?\d){12,15}(?!\d)", _luhn_ok),
    _rule(
        "bank_card",
        rf"(?:银行卡号|银行账号|卡号|账号|"
        rf"{_B}(?i:card number|account number|account no\.?|bank card))"
        rf"{_CUE_END}(?P<hit>\d(?:[ -]?\d){{7,29}})(?!\d)",
    ),
    # phones: Chinese mobiles (+86 optional), landlines with area code, numbers with a
    # country code, North American local format, and any number after a cue
    _rule("phone", r"(?<![\d+])(?<!\d[ -])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)"),
    _rule("phone", r"(?<![\d+])(?<!\d[ -])\(?0\d{2,3}\)?[ -]?\d{3,4}[ -]?\d{4}(?!\d)"),
    _rule(
        "phone", r"(?<![0-9A-Za-z+])(?:\+|00)[1-9][\d ().-]{6,20}\d(?!\d)", _international_digits
    ),
    _rule(
        "phone",
        r"(?<![\d(])(?<!\d[ -])\(?[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)",
        _not_a_service_line,
    ),
    _rule(
        "phone",
        r"(?:联系电话|电话号码|电话|手机号码|手机号|手机|座机|联系方式|"
        rf"{_B}(?i:phone number|phone|tel|mobile|cell|whatsapp|call me at|call me on|text me at|"
        r"reach me at))"
        rf"{_CUE_END}(?P<hit>\+?\d[\d ().-]{{5,18}}\d)(?!\d)",
        _phone_digits,
    ),
    # WeChat and QQ ids after a cue
    _rule(
        "messenger_id",
        rf"(?:微信号|微信|QQ号码|QQ号|{_B}(?i:wechat id|wechat|weixin|qq))"
        rf"{_CUE_END}(?P<hit>[A-Za-z][A-Za-z0-9_-]{{5,19}}|[1-9]\d{{4,11}})(?![A-Za-z0-9_-])",
        _messenger_id,
    ),
    # links that carry an id: ?uid=123, /user/zhang
    _rule(
        "url_with_id",
        rf"{_B}https?://[^\s<>\"'()\[\]{{}}，。、；！？]{{1,2000}}",
        _url_has_id,
    ),
    # Chinese car plates: 京A12345, 粤B·D12345
    _rule(
        "plate",
        r"(?<![0-9A-Za-z])[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
        r"[A-HJ-NP-Z][·• ]?[A-HJ-NP-Z0-9]{5,6}(?![0-9A-Za-z])",
        _plate,
    ),
    # English street addresses: 12 Oak Street, No. 88 Jianguo Rd, Apt 4B
    _rule(
        "address",
        r"(?<![0-9A-Za-z])(?:No\.? ?)?\d{1,5}[A-Za-z]?,?[ \t]+(?:[A-Z][A-Za-z'-]*\.?[ \t]+){1,4}"
        r"(?i:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|"
        r"pl|terrace|crescent|close|highway|hwy)(?![A-Za-z0-9_])"
        r"(?:,?[ \t]*(?i:apt|apartment|unit|suite|flat|room|rm|#)\.?[ \t]*#?[0-9A-Za-z-]{1,6})?",
    ),
    _rule(
        "address",
        rf"{_B}(?:(?:[Aa]pt|[Aa]partment|Flat)\.?[ \t]*#?\d{{1,5}}[A-Za-z]?"
        r"|(?:[Rr]oom|Rm|[Ss]uite)\.?[ \t]*#?\d{3,5}[A-Za-z]?)(?![A-Za-z0-9_])",
    ),
    # whatever follows "地址：" or "Address:" up to the end of the sentence
    _rule(
        "address",
        rf"(?:(?:家庭住址|住址|地址)\s*(?::|是)|{_B}(?i:home address|address)\s*:)\s*"
        r"(?P<hit>[^\s\[](?:[^\n!?;。！？；\[.]|\.(?=\S)){1,79})",
    ),
    _rule("address", rf"{_B}(?i:I|we) live (?:at|on)\s+(?P<hit>[^\s\[][^\n,.!?;\[]{{1,59}})"),
    # English names after a cue: "my name is Anna Smith", "my son, Tom,", "Mr Wang"
    _rule(
        "name",
        rf"{_B}(?i:my name is|my name['’]s|I am|I['’]m|this is|his name is|her name is|"
        r"named|called|name:|my (?:son|daughter|child|kid|boy|girl|husband|wife)"
        r"(?:['’]s name is| is called| is named)?,?)"
        rf"[ \t]+{_EN_NAME}",
    ),
    _rule(
        "name",
        rf"{_B}(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Teacher|Principal|Coach|Aunt|Auntie|Uncle)\.?[ \t]+"
        rf"{_EN_NAME}",
    ),
    # Chinese names after a cue: "我叫小明", "孩子叫李华", "姓名：王芳"
    _rule(
        "name",
        r"(?:我叫|名叫|名字叫|名字是|姓名|(?:儿子|女儿|孩子|小孩|宝宝|闺女|他|她|老公|老婆|丈夫|妻子)叫)"
        rf"\s*:?\s*(?P<hit>{_GIVEN_CHAR}{{2,3}})",
    ),
    # "我是王小明的妈妈": only with a surname, and only before 的, 妈妈, 家长 or punctuation
    _rule(
        "name",
        rf"我是(?P<hit>{_SURNAME}{_GIVEN_CHAR}{{1,2}})"
        r"(?=[的,.!?;。！？；、\s]|$|妈|爸|家|同学|学生|老师|爷|奶|外公|外婆|姥)",
        _not_a_word,
    ),
    # "孩子王小明", "同学张伟": a surname right after a family or school word
    _rule(
        "name",
        r"(?:儿子|女儿|孩子|小孩|闺女|同学|老师|班主任|朋友|室友|孙子|孙女|学生)"
        rf"(?P<hit>{_SURNAME}{_GIVEN_CHAR}{{1,2}})",
        _not_a_word,
    ),
)


class _Span(NamedTuple):
    start: int
    end: int
    kind: str
    order: int  # position of the rule in the table; known names come first (-1)


def _rule_spans(rule: _Rule, order: int, text: str) -> Iterator[_Span]:
    group = "hit" if "hit" in rule.pattern.groupindex else 0
    for match in rule.pattern.finditer(text):
        found = match.group(group)
        if rule.accept is None or rule.accept(found):
            yield _Span(match.start(group), match.end(group), rule.kind, order)


# --- Chinese addresses, assembled from parts -------------------------------------------
# Characters that cannot be part of a place name but often come just before one ("我家在").
_ADDR_STOP = (
    "的在住我你他她它们是了和与跟到从去也都就还要想把被给对说叫"
    "吗呢吧啊不没这那个离靠附请问谁哪什么怎"
)
_ADDR_CHAR = rf"(?:(?![{_ADDR_STOP}])[{_CJK}A-Za-z0-9])"
_CN_NUMERAL = "[一二三四五六七八九十]{1,3}"
# Each part with an example; the parts of one address follow each other directly or with a
# space or dash between them.
_ADDRESS_PARTS = (
    # 阳光花园, 幸福村, 国贸大厦
    ("estate", rf"{_ADDR_CHAR}{{2,10}}?(?:小区|花园|家园|新村|公寓|大厦|苑|村)(?:小区)?"),
    # 建国路, 长安大街
    ("road", rf"{_ADDR_CHAR}{{1,8}}?(?:大街|大道|胡同|路|街|巷|弄)"),
    # 广东省, 深圳市, 朝阳区
    ("admin", rf"{_ADDR_CHAR}{{1,6}}?(?:自治区|自治州|省|市|区|县|旗|镇|乡|街道)"),
    # 2单元, 二单元501 (not 第三单元, a chapter of a textbook)
    ("unit", rf"(?<!第)(?:\d{{1,3}}|{_CN_NUMERAL})单元(?:\d{{3,5}}(?:室|房)?)?"),
    # 3号楼, 88号院, 3栋, A座
    ("building", rf"(?<!第)(?:(?:\d{{1,4}}|{_CN_NUMERAL})号[楼院]|(?:\d{{1,4}}|[A-Za-z])[栋幢座])"),
    # 501室
    ("room", r"\d{3,5}[室房]"),
    # 88号, 12-3号
    ("number", r"\d{1,5}(?:-\d{1,5})?号"),
    # 5楼, 12层
    ("floor", r"\d{1,3}[楼层]"),
    # 3-2-501 (building-unit-room, but also how some write a date: only next to other parts)
    ("shorthand", r"(?<!\d)\d{1,3}-\d{1,3}-\d{3,5}(?!\d)"),
)
_ADDRESS_PART = re.compile("|".join(f"(?P<{kind}>{regex})" for kind, regex in _ADDRESS_PARTS))
# Parts that place a home on their own. A district, a road, "3号楼" or "1号" alone do not:
# they are also how people speak of towns, the way to school, school buildings and dates.
_PLACING_PARTS = frozenset({"estate", "unit", "room"})
_AFTER_ROAD = frozenset({"number", "building"})
_PART_GAP = " -"


def _places_a_home(kinds: list[str]) -> bool:
    if _PLACING_PARTS.intersection(kinds):
        return True
    return any(a == "road" and b in _AFTER_ROAD for a, b in pairwise(kinds))


def _chinese_addresses(text: str, order: int) -> Iterator[_Span]:
    """Runs of address parts (省, 市, 区, 路, 号, 小区, 栋, 单元, 室...) that place a home."""
    start = end = -1
    kinds: list[str] = []
    for match in _ADDRESS_PART.finditer(text):
        kind = match.lastgroup or ""
        if kinds and (
            match.start() == end or (match.start() == end + 1 and text[end] in _PART_GAP)
        ):
            end = match.end()
            kinds.append(kind)
            continue
        if kinds and _places_a_home(kinds):
            yield _Span(start, end, "address", order)
        start, end, kinds = match.start(), match.end(), [kind]
    if kinds and _places_a_home(kinds):
        yield _Span(start, end, "address", order)


# --- names the school knows ------------------------------------------------------------
# Names that are also everyday English words: matched only when capitalised or in capitals,
# so "Will" and "Sun" go but "will" and "sun" stay.
_ENGLISH_WORD_NAMES = frozenset(
    _words(
        "will mark rose grace hope joy faith may june april august bill sunny summer dawn ray "
        "art pat jack frank rich guy chase hunter young white green brown black king long bell "
        "hall wood stone hill page rice cook baker miles price lane star sky river max dean "
        "carol holly ivy iris daisy amber ruby pearl autumn victor nick "
        "fang hang ding tan pan fan sun song tang gang man ban low see chew sin bing bang tong "
        "lang wing ping kong shin"
    )
)
_TOKEN_WORDS = frozenset({"name", "phone", "id", "number", "card", "address", "email", "link"})
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "司徒", "东方", "慕容", "夏侯", "皇甫")


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= char <= "\u9fff" for char in text)


def _given_name(name: str) -> str | None:
    """The given name of a Chinese full name, if long enough to be worth redacting alone:
    王小明 → 小明, 欧阳小明 → 小明. A one-character given name (李华 → 华) is not."""
    if len(name) == 3 and not name.startswith(_COMPOUND_SURNAMES):
        return name[1:]
    if len(name) == 4:
        return name[2:]
    return None


def _name_forms(names: Iterable[str]) -> tuple[str, ...]:
    forms: set[str] = set()
    for raw in names:
        name = " ".join(raw.translate(_FOLD).split()).lstrip("@")
        if not name:
            continue
        forms.add(name)
        for part in name.split(" "):
            if _is_cjk(part):
                forms.add(part)
                given = _given_name(part)
                if given:
                    forms.add(given)
            elif len(part) >= 3:
                forms.add(part)
    keep = (
        form
        for form in forms
        if (len(form) >= 2 if _is_cjk(form) else len(form) >= 3)
        and form.lower() not in _TOKEN_WORDS
    )
    return tuple(sorted(keep, key=lambda form: (-len(form), form)))


@lru_cache(maxsize=256)
def _known_name_patterns(forms: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    def alternation(items: Iterable[str]) -> str:
        return "|".join(r"\s+".join(map(re.escape, item.split(" "))) for item in items)

    cjk = [form for form in forms if _is_cjk(form)]
    latin = [form for form in forms if not _is_cjk(form)]
    words = [form for form in latin if form.lower() in _ENGLISH_WORD_NAMES]
    anycase = [form for form in latin if form.lower() not in _ENGLISH_WORD_NAMES]
    capitalised = [variant for word in words for variant in (word.capitalize(), word.upper())]
    edges = r"(?<![A-Za-z0-9_])(?:{})(?![A-Za-z0-9_])"
    patterns = []
    if cjk:
        patterns.append(re.compile(alternation(cjk)))
    if anycase:
        patterns.append(re.compile(edges.format(alternation(anycase)), re.IGNORECASE))
    if capitalised:
        patterns.append(re.compile(edges.format(alternation(capitalised))))
    return tuple(patterns)


def _known_names(text: str, names: Iterable[str]) -> Iterator[_Span]:
    for pattern in _known_name_patterns(_name_forms(names)):
        for match in pattern.finditer(text):
            yield _Span(match.start(), match.end(), "name", -1)


# --- putting it together ---------------------------------------------------------------
def _merge(spans: Iterable[_Span]) -> list[_Span]:
    """Overlapping finds become one, named after the longest of them (ties: table order)."""
    merged: list[_Span] = []
    longest = 0
    for span in sorted(spans, key=lambda s: (s.start, s.start - s.end, s.order)):
        length = span.end - span.start
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            kind = span.kind if length > longest else last.kind
            longest = max(longest, length)
            merged[-1] = last._replace(end=max(last.end, span.end), kind=kind)
        else:
            merged.append(span)
            longest = length
    return merged


def redact(text: str, *, known_names: Iterable[str] = ()) -> Redaction:
    """Replace the personal data found in ``text`` with tokens such as ``[name]``.

    ``known_names`` are names the system knows (the parent's, their children's, the
    guardians' from the roster, the parent's Telegram username): each is redacted wherever
    it appears, in any letter case for Latin script (except names that are everyday words,
    such as Will, which must be capitalised), and with its parts: a Chinese given name
    without the surname (王小明 → 小明), an English first or last name of three or more
    letters. Redacting a redacted text again changes nothing.
    """
    folded = text.translate(_FOLD)
    spans: list[_Span] = list(_known_names(folded, known_names))
    for order, rule in enumerate(_RULES):
        spans.extend(_rule_spans(rule, order, folded))
    spans.extend(_chinese_addresses(folded, len(_RULES)))

    pieces: list[str] = []
    counts: Counter[str] = Counter()
    position = 0
    for span in _merge(spans):
        pieces += (text[position : span.start], TOKENS[span.kind])
        counts[span.kind] += 1
        position = span.end
    pieces.append(text[position:])
    return Redaction("".join(pieces), MappingProxyType(dict(counts)))
