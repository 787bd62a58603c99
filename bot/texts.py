"""Longer user-facing texts, built in the current locale at call time."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from campus.models import Role


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


def teacher_help() -> str:
    return _(
        "As a teacher you can send notices to the parents of your classes and see who has "
        "acknowledged them.\n\n"
        "/classes — your school's classes"
    )


def admin_help() -> str:
    return _(
        "As the school administrator you can:\n"
        "/newclass NAME — create a class, e.g. /newclass 3A\n"
        "/classes — list the classes\n"
        "/addstudent CLASS NAME — add a student and get the parent's invite link\n"
        "/invite_teacher — a one-time invite link for a teacher\n"
        "/kb_feedback — what parents thought of the answers\n"
        "/kb_reload — reload the knowledge base after editing it\n\n"
        "To import the whole roster, send me a .csv file (class, student name, student "
        "number, guardians); see docs/roster.md."
    )


def expert_help() -> str:
    return _(
        "As an expert you answer parents' questions that the knowledge base cannot answer. "
        "You never see who the parent is."
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
