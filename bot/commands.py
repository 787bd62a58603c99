"""The bot's command menu, per language, and per chat once a person has a role."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __

from campus.models import Role

EVERYONE = [
    ("start", __("Start or join with an invite")),
    ("help", __("What I can do")),
    ("lang", __("Language: English / 中文")),
    ("privacy", __("What is stored and who sees it")),
]
GUARDIAN = [("forget_me", __("Delete your data"))]
CASES = [("cases", __("Parents' questions for people to answer"))]
NOTICES = [
    ("notify", __("Send a notice to parents")),
    ("notices", __("Your notices and who has acknowledged")),
    ("edit_notice", __("Edit a sent notice")),
]
ADMIN = [
    *NOTICES,
    ("newclass", __("Create a class")),
    ("classes", __("List classes")),
    ("addstudent", __("Add a student and get the parent's invite")),
    ("invite_teacher", __("Invite a teacher")),
    ("teachers", __("Teachers and their classes")),
    ("assign", __("Assign a teacher to classes")),
    ("unassign", __("Take a teacher off classes")),
    ("invite_expert", __("Invite an expert")),
    ("experts", __("List experts")),
    ("remove_staff", __("Remove a teacher or an expert")),
    ("invites", __("Print invite slips for a class")),
    ("revoke_invites", __("Revoke a student's unused invites")),
    ("remove_student", __("Remove a student")),
    ("remove_guardian", __("Unlink a guardian from a student")),
    ("kb_feedback", __("Feedback on the knowledge base")),
    ("drafts", __("Answers proposed for the knowledge base")),
    *CASES,
]
TEACHER = [*NOTICES, *CASES, ("classes", __("List classes"))]
EXPERT = [*CASES, ("duty", __("Pause, resume, or set your hours"))]


def commands_for(i18n: I18n, locale: str, roles: frozenset[Role]) -> list[BotCommand]:
    """The menu a person with ``roles`` sees, in ``locale``."""
    entries = list(EVERYONE)
    if Role.ADMIN in roles:
        entries += ADMIN
    elif Role.TEACHER in roles:
        entries += TEACHER
    elif Role.EXPERT in roles:
        entries += EXPERT
    if Role.GUARDIAN in roles:
        entries += GUARDIAN
    with i18n.context(), i18n.use_locale(locale):
        return [BotCommand(command=name, description=str(text)) for name, text in entries]


async def set_default_commands(bot: Bot, i18n: I18n) -> None:
    """The menu for everyone, in each language Telegram apps may report."""
    await bot.set_my_commands(commands_for(i18n, "en", frozenset()), BotCommandScopeDefault())
    for locale in ("en", "zh"):
        await bot.set_my_commands(
            commands_for(i18n, locale, frozenset()),
            BotCommandScopeDefault(),
            language_code=locale,
        )


async def set_chat_commands(
    bot: Bot, i18n: I18n, chat_id: int, locale: str, roles: frozenset[Role]
) -> None:
    """The menu of one private chat, in the language the person chose."""
    await bot.set_my_commands(
        commands_for(i18n, locale, roles), BotCommandScopeChat(chat_id=chat_id)
    )
