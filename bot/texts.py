"""Longer user-facing texts, built in the current locale at call time."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.utils.i18n import gettext as _

from bot.keyboards import LANGUAGE_NAMES
from campus.models import ExpertCategory, GuardianRelation, Role


def newcomer_help() -> str:
    return _(
        "SafeCampus connects you with your child's school.\n\n"
        "To join, open the invite link or scan the QR code on the slip from your child's "
        "teacher. Staff get their link from the school administrator.\n\n"
        "/lang — English / 中文\n"
        "/privacy — what is stored and who sees it"
    )


def guardian_help() -> str:
    return _(
        "As a parent you can:\n"
        "• receive notices and safety alerts about your child and tap Acknowledge;\n"
        "• open another invite link to add a child;\n"
        "• write a question in your own words at any time.\n\n"
        "/lang — change language\n"
        "/privacy — what is stored and who sees it\n"
        "/forget_me — delete your data"
    )


def notices_help() -> str:
    return _(
        "Notices and safety alerts:\n"
        "/notify — send a notice or safety alert to parents\n"
        "/notices — your notices and who has acknowledged them\n"
        "/edit_notice NUMBER — change a sent notice; parents are asked to confirm again"
    )


def teacher_help() -> str:
    return "\n\n".join(
        [
            _(
                "As a teacher you can send notices to the parents of your classes and see who "
                "has acknowledged them.\n\n"
                "/classes — your school's classes\n"
                "/cases — parents' questions for you to answer"
            ),
            notices_help(),
        ]
    )


def admin_help() -> str:
    return "\n\n".join(
        [
            _(
                "As the school administrator you can:\n"
                "/newclass NAME — create a class, e.g. /newclass 3A\n"
                "/classes — list the classes\n"
                "/addstudent CLASS NAME — add a student and get the parent's invite link\n"
                "/invite_teacher — a one-time invite link for a teacher\n"
                "/kb_feedback — what parents thought of the answers\n"
                "/kb_reload — reload the knowledge base after editing it\n"
                "/drafts — answers experts proposed for the knowledge base\n"
                "/cases — questions handed to people, and response times\n\n"
                "To import the whole roster, send me a .csv file (class, student name, student "
                "number, guardians); see docs/roster.md."
            ),
            _(
                "Teachers and experts:\n"
                "/teachers — the teachers and the classes they teach\n"
                "/assign — assign a teacher to classes\n"
                "/unassign — take a teacher off classes\n"
                "/invite_expert CATEGORIES LANGUAGES — a one-time invite link for an expert, "
                "e.g. /invite_expert law,psych en,zh\n"
                "/experts — the experts, by pseudonym\n"
                "/remove_staff — take the teacher or expert role away from someone"
            ),
            _(
                "Students and guardians:\n"
                "/invites CLASS — print invite slips (PDF + CSV) for a class\n"
                "/revoke_invites NUMBER — revoke a student's unused invite links\n"
                "/remove_student NUMBER — remove a student who left the school\n"
                "/remove_guardian NUMBER — unlink a guardian from a student"
            ),
            notices_help(),
        ]
    )


def expert_help() -> str:
    return "\n\n".join(
        [
            _(
                "As an expert you answer parents' questions that the knowledge base cannot "
                "answer. You never see who the parent is."
            ),
            _(
                "When a question is offered to you, tap “Claim”, then answer by replying to the "
                "parent's message. After answering you can save a good answer for the "
                "knowledge base.\n"
                "/cases — questions offered to you and the ones you handle\n"
                "/duty — pause, resume, or set the hours you take questions"
            ),
        ]
    )


ROLE_HELP = {
    Role.ADMIN: admin_help,
    Role.TEACHER: teacher_help,
    Role.GUARDIAN: guardian_help,
    Role.EXPERT: expert_help,
}


def help_for(roles: frozenset[Role]) -> str:
    """Help for every role a person holds, most privileged first; newcomers get how to join."""
    sections = [text() for role, text in ROLE_HELP.items() if role in roles]
    return "\n\n".join(sections) if sections else newcomer_help()


def admin_only_command() -> str:
    """The refusal of an administrator's command to anybody else."""
    return _(
        "Sorry, this command is for school staff: only a school administrator can use it. "
        "Nothing was changed. /help shows what you can do."
    )


def admin_only_button() -> str:
    """The refusal of an administrator's button to anybody else (a forged press)."""
    return _("Only a school administrator can use this button. Nothing was changed.")


def no_name() -> str:
    """Shown instead of an empty name (a person who was forgotten)."""
    return _("(no name)")


def category_label(category: str) -> str:
    """An expert category's name for people."""
    labels = {
        ExpertCategory.LAW.value: _("law"),
        ExpertCategory.PSYCHOLOGY.value: _("psychology"),
        ExpertCategory.FAMILY.value: _("family education"),
        ExpertCategory.SAFETY.value: _("safety"),
    }
    return labels.get(category, category)


def categories_text(categories: Iterable[str]) -> str:
    """Expert categories as a list for people, e.g. "law, psychology"."""
    return ", ".join(category_label(category) for category in categories)


def languages_text(languages: Iterable[str]) -> str:
    """Languages by their own names, e.g. "English, 简体中文"."""
    names = {language.value: name for language, name in LANGUAGE_NAMES.items()}
    return ", ".join(names.get(language, language) for language in languages)


def relation_label(relation: str) -> str:
    """How a guardian is related to a child, for people."""
    labels = {
        GuardianRelation.MOTHER.value: _("mother"),
        GuardianRelation.FATHER.value: _("father"),
        GuardianRelation.GRANDMOTHER.value: _("grandmother"),
        GuardianRelation.GRANDFATHER.value: _("grandfather"),
        GuardianRelation.GUARDIAN.value: _("guardian"),
        GuardianRelation.OTHER.value: _("other"),
    }
    return labels.get(relation, relation)


def privacy_notice() -> str:
    return _(
        "What SafeCampus stores\n"
        "• your Telegram id, name and chosen language;\n"
        "• which children you are linked to, and their name, class and student number "
        "from the school's roster;\n"
        "• the notices sent to you and when you acknowledged them;\n"
        "• the questions you ask.\n\n"
        "Who can see it\n"
        "• your child's teachers and the school administrators;\n"
        "• experts see your question with a pseudonym and your child's grade, never your "
        "name.\n\n"
        "How long\n"
        "Personal data is kept while you are linked to the school. Records the school must "
        "keep as evidence (who was told what, when) are kept in pseudonymous form for the "
        "school's retention period.\n\n"
        "Children's data under 14 is handled with a guardian's consent, as China's Personal "
        "Information Protection Law (arts. 28 and 31) requires.\n\n"
        "/forget_me deletes your personal data and your links to your children."
    )


def invite_problem(code: str) -> str:
    """Why an invite link did not work, and what to do."""
    problems = {
        "unknown": _("This invite link is not valid. Please check it with the school."),
        "expired": _("This invite link has expired. Please ask the school for a new one."),
        "used": _(
            "This invite link has already been used. Each link works once: please ask the "
            "school for a new one."
        ),
        "revoked": _("This invite link was withdrawn by the school. Please ask for a new one."),
        "too_many_attempts": _(
            "Too many invite links did not work. Please wait an hour, or ask the school for "
            "a new link."
        ),
    }
    return problems.get(code, problems["unknown"])
