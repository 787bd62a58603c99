"""Redacting personal data from a parent's words before an expert reads them."""

from __future__ import annotations

import pytest

from campus.redaction import TOKENS, redact

# (text, kind that must be found, the secret that must be gone)
ENGLISH_SECRETS = [
    ("My name is Anna Smith.", "name", "Anna Smith"),
    ("I'm Chen Jie, Tom's mum.", "name", "Chen Jie"),
    ("I’m Lucy and I need help.", "name", "Lucy"),
    ("My daughter Lily is 9 years old.", "name", "Lily"),
    ("my son, Tom, was pushed at school.", "name", "Tom"),
    ("A boy named Jack took his phone.", "name", "Jack"),
    ("Mr. O'Brien shouted at the class.", "name", "O'Brien"),
    ("Hello, this is Mary-Jane Watson.", "name", "Mary-Jane Watson"),
    ("Name: Peter Zhang", "name", "Peter Zhang"),
    ("Call me on 138 1234 5678 please.", "phone", "1234 5678"),
    ("My number is +86 139-1234-5678.", "phone", "1234-5678"),
    ("Office line 010-62345678 after 5.", "phone", "62345678"),
    ("My UK mobile is +44 7911 123456.", "phone", "7911 123456"),
    ("US cell (415) 555-2671", "phone", "555-2671"),
    ("phone: 62345678", "phone", "62345678"),
    ("My ID number is 11010519491231002X.", "id_number", "11010519491231002X"),
    ("His old ID 110105491231002 is on file.", "id_number", "110105491231002"),
    ("Passport E12345678 expired.", "id_number", "E12345678"),
    ("Student number: 2023015", "id_number", "2023015"),
    ("Email anna.smith@example.com today.", "email", "anna.smith@example.com"),
    ("Write to Zhang_Mom+school@mail.example.org.", "email", "Zhang_Mom"),
    ("Message me @zhang_mom on Telegram.", "telegram", "zhang_mom"),
    ("Join t.me/annasmith88 for updates.", "telegram", "annasmith88"),
    ("Pay to card 4111 1111 1111 1111.", "bank_card", "4111 1111 1111 1111"),
    ("Account number 6222020200112233445", "bank_card", "6222020200112233445"),
    ("We live at 12 Oak Street, Apt 4B.", "address", "Oak Street"),
    ("Address: No. 88 Jianguo Road, Chaoyang", "address", "Jianguo Road"),
    ("Room 1203 is ours.", "address", "1203"),
    ("See https://example.com/user/anna?x=1 please.", "url_with_id", "anna"),
    ("The car 京A12345 waits at the gate.", "plate", "A12345"),
    ("WeChat: anna_88", "messenger_id", "anna_88"),
]

CHINESE_SECRETS = [
    ("我叫王小明。", "name", "王小明"),
    ("我儿子叫李小龙，今年9岁。", "name", "李小龙"),
    ("孩子叫小雨，在三年级。", "name", "小雨"),
    ("我是王芳的妈妈。", "name", "王芳"),
    ("我是欧阳娜娜家长。", "name", "欧阳娜娜"),
    ("同学张伟打了他。", "name", "张伟"),
    ("我女儿陈思琪被欺负了。", "name", "陈思琪"),
    ("姓名：刘洋", "name", "刘洋"),
    ("孩子的名字叫张子涵。", "name", "张子涵"),
    ("我的手机是13912345678。", "phone", "13912345678"),
    ("电话：138-1234-5678", "phone", "1234-5678"),
    ("请打0755-86001234联系我。", "phone", "86001234"),
    ("手机号＋８６　１３８１２３４５６７８", "phone", "１２３４５６７８"),
    ("座机 62345678", "phone", "62345678"),
    ("身份证号：11010519491231002X", "id_number", "11010519491231002X"),
    ("身份证号码是11010519491231002x", "id_number", "11010519491231002x"),
    ("护照号E12345678", "id_number", "E12345678"),
    ("学号2023015的学生", "id_number", "2023015"),
    ("邮箱：zhangsan@163.com", "email", "zhangsan@163.com"),
    ("加我微信号wxid_abc123", "messenger_id", "wxid_abc123"),
    ("QQ号：12345678", "messenger_id", "12345678"),
    ("银行卡号6222 0202 0011 2233 445", "bank_card", "0011 2233"),
    ("家住北京市朝阳区建国路88号", "address", "建国路88号"),
    ("幸福小区3栋2单元501室", "address", "501室"),
    ("地址：广东省深圳市南山区科技园南路18号", "address", "科技园南路"),
    ("我们住在阳光花园小区", "address", "阳光花园"),
    ("老家在河南省周口市李庄村", "address", "李庄村"),
    ("住在幸福小区3-2-501", "address", "3-2-501"),
    ("车牌号粤B·D12345", "plate", "D12345"),
    ("我的电报是@wang_mama", "telegram", "wang_mama"),
    ("链接https://t.me/wangmama", "telegram", "wangmama"),
]

ENGLISH_ORDINARY = [
    "My son is 9 years old and in Grade 4.",
    "He is in class 3A, Grade 4 Class 2.",
    "It happened on 2024-09-15 at 14:30.",
    "School starts on 1 September 2024.",
    "The trip costs ¥1,200 or $180.50.",
    "Call 110 for police, 120 for an ambulance, 119 for fire, 122 for traffic accidents.",
    "The youth hotlines 12355 and 12356 can help.",
    "Article 38 of the Minor Protection Law says so.",
    "I am worried about bullying in Year 5.",
    "I'm Chinese and this is Monday.",
    "Unit 3 homework is due; Room 12 is the art room.",
    "He walks 2 blocks down the road every day.",
    "He scored 98 out of 100 and weighs 30 kg.",
    "Order 2024091512 was shipped; version 3.11.2.",
    "Our Telegram group and the WeChat group are busy.",
    "She was born in 2015 and is 150 cm tall.",
    "Between 7:45 and 8:00 the gate is open.",
    "Read https://www.gov.cn/zhengce/2021-06/01/content_5614684.htm please.",
    "The school helpline 400-810-5555 and 800 820 8820 answered; it was 15-09-2024.",
]

CHINESE_ORDINARY = [
    "孩子今年9岁，读四年级。",
    "他在三年级二班，班主任王老师。",
    "初二(3)班的学生身高130厘米。",
    "2024年9月15日下午3点半放学。",
    "学费3000元，午餐费每天15元。",
    "拨打12355青少年服务台或者110报警，120急救，119火警，122交通事故。",
    "12356心理援助热线。",
    "《未成年人保护法》第三十八条、第38条规定。",
    "孩子安全问题，老师关心学生，同学关系不好。",
    "孩子经常说同学欺负他，孩子马上就要考试了。",
    "我是一名家长，我是孩子的妈妈，我是单亲妈妈。",
    "孩子在学校3号楼摔倒了。",
    "9月1号开学，第三单元的作业。",
    "学校附近的小区有人卖烟。",
    "孩子上学路上要经过建国路，过马路要小心。",
    "我们住在朝阳区，在农村长大。",
    "孩子叫不醒，他叫我去。",
    "老师严厉批评了他，孩子高烧不退。",
    "客服电话400-123-4567，北京市朝阳区的学校。",
]

ALL_SECRETS = ENGLISH_SECRETS + CHINESE_SECRETS


@pytest.mark.parametrize(("text", "kind", "secret"), ALL_SECRETS)
def test_personal_data_is_replaced_by_its_token(text: str, kind: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert result.found.get(kind, 0) >= 1, result
    assert TOKENS[kind] in result.text


@pytest.mark.parametrize("text", ENGLISH_ORDINARY + CHINESE_ORDINARY)
def test_ordinary_words_and_numbers_are_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert dict(result.found) == {}


@pytest.mark.parametrize(("text", "kind", "secret"), ALL_SECRETS)
def test_redacting_twice_changes_nothing(text: str, kind: str, secret: str) -> None:
    once = redact(text, known_names=["Anna Smith", "王小明"])
    twice = redact(once.text, known_names=["Anna Smith", "王小明"])
    assert twice.text == once.text
    assert dict(twice.found) == {}


def test_the_cue_stays_and_only_the_secret_goes() -> None:
    assert redact("My name is Anna Smith and I'm worried.").text == (
        "My name is [name] and I'm worried."
    )
    assert redact("我儿子叫李小龙，电话13812345678。").text == "我儿子叫[name]，电话[phone]。"
    assert redact("I'm Tom's mother.").text == "I'm [name]'s mother."


def test_an_address_ends_where_the_sentence_does() -> None:
    assert redact("Address: 5 Oak Street. We moved.").text == "Address: [address]. We moved."
    assert redact("住在幸福小区3-2-501，15-09-2024到的。").text == "住在[address]，15-09-2024到的。"


def test_counts_every_find_by_kind() -> None:
    result = redact("Call 13812345678 or 13912345678, or mail a@example.com. I am Anna.")
    assert dict(result.found) == {"phone": 2, "email": 1, "name": 1}


def test_a_message_with_everything() -> None:
    text = (
        "I am Wang Li, my son Wang Xiaoming was hurt. Call 13812345678. "
        "我家住在幸福小区3栋2单元501室，身份证号11010519491231002X，邮箱wangli@example.com。"
    )
    result = redact(text, known_names=["Wang Li", "Wang Xiaoming"])
    for secret in ("Wang", "Xiaoming", "13812345678", "幸福小区", "501", "1101051949", "wangli@"):
        assert secret not in result.text
    assert dict(result.found) == {"name": 2, "phone": 1, "address": 1, "id_number": 1, "email": 1}


# --- the ID checksum decides between an ID number and a bank card ----------------------
def test_a_valid_id_checksum_means_an_id_number() -> None:
    assert dict(redact("440301201503070015").found) == {"id_number": 1}


def test_an_id_look_alike_with_a_bad_checksum_is_still_redacted_as_an_id() -> None:
    result = redact("身份证 440301201503070016")
    assert result.text == "身份证 [ID number]"


def test_an_eighteen_digit_luhn_number_with_a_bad_id_checksum_is_a_card() -> None:
    assert dict(redact("卡 622202020011223356").found) == {"bank_card": 1}


def test_a_sixteen_digit_number_that_fails_luhn_is_not_a_card() -> None:
    assert redact("Order 4111 1111 1111 1112").text == "Order 4111 1111 1111 1112"


# --- names the school knows -------------------------------------------------------------
def test_known_english_names_in_any_case_and_spacing() -> None:
    result = redact("WANG LI wrote; wang li again; Wang  Li too.", known_names=["Wang Li"])
    assert result.text == "[name] wrote; [name] again; [name] too."


def test_known_english_first_name_alone_from_three_letters() -> None:
    text = "Xiaoming cried. Li is a common name. Annual fees."
    result = redact(text, known_names=["Xiaoming Wang", "Li Na", "Ann"])
    assert result.text == "[name] cried. Li is a common name. Annual fees."


def test_known_names_that_are_everyday_words_only_when_capitalised() -> None:
    result = redact("Will said he will see the green field.", known_names=["Will Green"])
    assert result.text == "[name] said he will see the green field."


def test_known_chinese_names_with_and_without_the_surname() -> None:
    text = "王小明昨天被打了，小明很害怕。娜娜也在。中华人民共和国"
    result = redact(text, known_names=["王小明", "欧阳娜娜", "李华"])
    assert result.text == "[name]昨天被打了，[name]很害怕。[name]也在。中华人民共和国"


def test_a_known_telegram_username_with_or_without_at() -> None:
    result = redact("I am @zhang_mom, also ZHANG_MOM.", known_names=["@zhang_mom"])
    assert "zhang_mom" not in result.text.lower()


def test_known_latin_name_next_to_chinese_characters() -> None:
    assert redact("我儿子Tom今年9岁", known_names=["Tom Lee"]).text == "我儿子[name]今年9岁"


def test_an_empty_known_name_is_ignored() -> None:
    assert redact("Hello there.", known_names=["", "  ", "@"]).text == "Hello there."


# --- odd inputs --------------------------------------------------------------------------
def test_html_looking_text_keeps_its_tags() -> None:
    text = (
        '<b>My name is Anna</b> <a href="tg://user?id=12345">link</a> '
        "<script>alert(1)</script> <i>王小明</i>"
    )
    result = redact(text, known_names=["王小明"])
    assert result.text == (
        '<b>My name is [name]</b> <a href="[username]">link</a> '
        "<script>alert(1)</script> <i>[name]</i>"
    )


def test_a_ten_thousand_character_message_is_redacted_to_the_end() -> None:
    filler = "My son is 9 and in Grade 4; 孩子今年九岁，读四年级。 "
    text = filler * 150 + "Call 13812345678. " + filler * 150 + "我叫王小明。"
    assert len(text) > 10_000
    result = redact(text)
    assert "13812345678" not in result.text and "王小明" not in result.text
    assert dict(result.found) == {"phone": 1, "name": 1}
    assert result.text.count(filler) == 300


@pytest.mark.parametrize(
    "text",
    [
        "1" * 10_000,
        "a" * 10_000,
        "孩" * 10_000,
        "1 -" * 3_400,
        "幸福路" * 3_400,
        "a@b." * 2_500,
        "+1 " * 3_400,
        "I am Ab " * 1_250,
        "电话" * 5_000,
        "(1" * 5_000,
    ],
)
def test_long_repetitive_input_finishes(text: str) -> None:
    result = redact(text)
    assert len(result.text) > 0
    assert redact(result.text).text == result.text


def test_empty_text() -> None:
    result = redact("")
    assert result.text == "" and dict(result.found) == {}
