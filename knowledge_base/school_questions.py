"""Is a question for the school office rather than an expert?

Timetables, fees, lost property, events, uniforms, enrolment, the lunch menu, homework and
exam dates: only the school knows, so such a question goes to the child's class teacher
instead of an expert. A small keyword classifier in English and Chinese; it errs towards
the experts, who can pass a question on, because a safety or family question wrongly sent
to the teacher would lose the expert's answer.
"""

from __future__ import annotations

import re

# Each pattern names a school matter in a way a safety, law, psychology or family question
# rarely does: "when does term start", not "term"; "lunch menu", not "lunch".
_ENGLISH = (
    # calendar and timetable
    r"\btime ?tables?\b",
    r"\bclass schedule\b",
    r"\bschool calendar\b",
    r"\b(term|semester|school year|half-term|holidays?)\b[^.?!]*\b(start|begin|end|finish)s?\b",
    r"\b(start|begin|end|finish)(s|ing)? of (the )?(term|semester|school year)\b",
    r"\bhalf-term\b",
    r"\bwhat time (does|do|is|are) (school|class(es)?|lessons?|pick-?up|drop-?off)\b",
    r"\bwhen (does|do) (school|class(es)?|lessons?) (start|begin|end|finish)\b",
    r"\bclasses (start|begin|end|finish)\b",
    r"\bis there (school|class(es)?|lessons?)\b",
    r"\b(pick-?up|drop-?off|dismissal|home) time\b",
    r"\bpublic holiday\b",
    r"\b(day off|days off) school\b",
    # fees, payments, things to buy
    r"\b(school|tuition|class|trip|lunch|meal|bus|exam|club) fees?\b",
    r"\btuition\b",
    r"\bpay (for|the)\b[^.?!]*\b(trip|lunch|meals?|uniforms?|books?|fees?|club|camp|tuition|bus)\b",
    r"\bhow much (is|are|does|do)\b[^.?!]*\b(trip|uniforms?|textbooks?|lunch|club|camp)\b",
    r"\btext ?books?\b",
    r"\bworkbooks?\b",
    r"\bdeposit\b[^.?!]*\b(school|locker|trip|camp|class|club)\b",
    r"\b(school|locker|trip|camp)\b[^.?!]*\bdeposit\b",
    r"\buniforms?\b",
    # lost property
    r"\blost (and|&) found\b",
    r"\blost property\b",
    r"\b(has|did) (anyone|anybody|someone|somebody) (found|find|hand(ed)? in)\b",
    r"\bhanded in\b",
    r"\b(left|forgot|lost)\b[^.?!]*\b(at|in) "
    r"(school|the (gym|classroom|playground|canteen|hall))\b",
    r"\bwhere can i (collect|pick up|get back)\b",
    # canteen
    r"\b(canteen|cafeteria)\b[^.?!]*\b(menu|serv(e|es|ing)|open|today|tomorrow|week)\b",
    r"\b(lunch|dinner) menu\b",
    r"\bwhat'?s for (lunch|dinner)\b",
    r"\bschool (lunch|lunches|meals?|dinners?)\b[^.?!]*\b(menu|today|tomorrow|week|cost|price)\b",
    # events
    r"\bsports day\b",
    r"\b(school|class|field) (trip|concert|play|photo|outing|fair|festival)s?\b",
    r"\b(when|what time|where|which room|what room|what day)\b[^.?!]*"
    r"\b(parents'? (evening|meeting|day)|parent-teacher (meeting|conference|evening))",
    r"\b(parents'? (evening|meeting|day)|parent-teacher (meeting|conference|evening))\b"
    r"[^.?!]*\b(start|begin|time|date|room|where)\b",
    r"\bopen (day|house)\b",
    r"\bgraduation ceremony\b",
    r"\b(after-school|afterschool)\b[^.?!]*\b(club|class|activit(y|ies))\b",
    r"\bschool (team|club|choir|band|orchestra)s?\b",
    r"\bsummer camp\b",
    # enrolment and administration
    r"\b(enrol|enroll|enrolment|enrollment|admissions?)\b",
    r"\bsign( \w+)? up\b",
    r"\bregist(er|ration)\b[^.?!]*\b(for|at) (the )?(school|club|camp|class|trip|course)\b",
    r"\btransfer (to|schools?)\b",
    r"\breport cards?\b",
    r"\bsick note\b",
    r"\b(absence|absent) (form|note|request)\b",
    r"\b(which|what) (class|classroom|room|grade) (is|will)\b",
    r"\bwho (is|will be)\b[^.?!]*\bteacher\b",
    r"\bschool'?s? (phone|telephone|number|address|email|e-mail|office|website|opening hours)\b",
    r"\bschool bus (route|stop|times?|timetable)\b",
    r"\bbus stops?\b",
    r"\blibrary (open|opening)\b",
    # homework and exams as dates and contents
    r"\bwhat homework\b",
    r"\bhomework (for|due)\b",
    r"\b(assigned|set) for homework\b",
    r"\bwhich (pages|chapters|units)\b",
    r"\bwhen (is|are|will) (the )?[^.?!]{0,30}\b(exams?|tests?)\b(?! (anxiety|stress|nerves))",
    r"\bwhat date is\b",
    r"\b(exam|test) (dates?|timetable|schedule|results?)\b",
    r"\bresults of the\b[^.?!]*\b(exams?|tests?)\b",
)

_CHINESE = (
    # 课表和校历
    "课表",
    "课程表",
    "作息时间",
    "校历",
    r"几点(上课|放学|到校|接|送)",
    "放学时间",
    "上课时间",
    r"(哪天|什么时候|几号|几月几号)(开学|放(寒|暑)?假|返校)",
    r"(开学|放假|返校)(时间|日期|安排)",
    "放几天假",
    r"补课(吗|时间|安排)",
    "调休",
    # 费用和购买
    "学费",
    "学杂费",
    "餐费",
    "校车费",
    "缴费",
    "交费",
    r"(交|缴|付)多少钱",
    r"多少钱一(套|本|件|个)",
    r"要(交|付)?多少钱",
    "课本",
    "教材",
    "练习册",
    "校服",
    # 失物
    "失物",
    "忘在",
    r"(落|丢)在(学校|教室|班里|操场|体育馆|食堂)",
    "谁捡到",
    "捡到一个",
    # 食堂
    r"(午餐|午饭|中饭|晚餐)吃什么",
    r"食堂[^。？！?]*(吃什么|菜单|素菜|有没有|几点|开门|今天|明天|下周)",
    "菜单",
    # 活动
    "运动会",
    r"家长会[^。？！?]{0,8}(几点|哪天|什么时候|时间|在哪|地点)",
    r"(几点|哪天|什么时候|几号)开家长会",
    "文艺汇演",
    "汇演",
    "春游",
    "秋游",
    "研学",
    "夏令营",
    "冬令营",
    "开放日",
    "毕业典礼",
    "毕业照",
    "社团",
    r"学校[^。？！?]{0,2}(足球|篮球|合唱|舞蹈)?队",
    # 报名、入学和行政
    r"(怎么|如何|在哪里?|何时|什么时候)报名",
    r"报名(时间|截止|材料|条件)",
    r"入学(手续|材料|报名|登记|时间|条件)",
    "办理入学",
    "转学",
    "插班",
    "成绩单",
    r"成绩(什么时候|在哪里?|哪里)(出|查)",
    r"分在哪个?班",
    r"(班主任|老师)是谁",
    "请假",
    "病假条",
    r"学校[^。？！?]{0,4}(电话|地址|邮箱|网站)",
    r"校车[^。？！?]*(路线|站|几点|时间)",
    r"图书馆[^。？！?]*开(放|门)",
    # 作业和考试安排
    r"布置了?(什么|哪些)作业",
    r"作业是什么",
    r"考(哪几|哪些|什么)(章|课|单元)",
    r"考试[^。？！?]{0,6}(是)?(几号|哪天|什么时候|时间)",
    r"(几号|哪天|什么时候)考试",
    r"(答案|第\d+题)",
)

_PATTERN = re.compile("|".join(f"(?:{p})" for p in _ENGLISH + _CHINESE), re.IGNORECASE)


def is_school_question(text: str) -> bool:
    """True when ``text`` (English or Chinese) asks about a school matter, such as the
    timetable, fees, lost property, events, uniforms, enrolment or the lunch menu, that the
    child's teacher should answer rather than an expert."""
    return _PATTERN.search(text) is not None
