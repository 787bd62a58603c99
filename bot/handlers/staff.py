"""School staff from the chat: teachers and the classes they teach, experts, and taking a
teacher's or an expert's role away. Administrators only; every button is checked again
against the administrator's school, since callback data can be forged."""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, or_f
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.handlers.admin import refuse_admin_command, refuse_button, school_of, short, show_in_place
from bot.keyboards import StaffRemoval, TeacherClass, TeacherPick
from bot.texts import categories_text, languages_text
from campus.models import Person, Role
from campus.services.schools import list_classes
from campus.services.staff import (
    ExpertEntry,
    StaffError,
    TaughtClass,
    TeacherEntry,
    assign_teacher,
    find_expert,
    find_teacher,
    issue_expert_invite,
    list_experts,
    list_teachers,
    parse_expert_choice,
    remove_staff,
    teacher_assignments,
    unassign_teacher,
)

STAFF_COMMANDS = ("teachers", "assign", "unassign", "invite_expert", "experts", "remove_staff")
ASSIGN = "assign"
UNASSIGN = "unassign"
DONE = 0
CLASSES_PER_ROW = 3
_COMMA = re.compile(r"\s*[,，]\s*")


def _staff_problem(error: StaffError) -> str:
    problems = {
        "unknown_teacher": _(
            "That person is not a teacher at your school (any more). Nothing was changed."
        ),
        "unknown_expert": _(
            "That person is not an expert at your school (any more). Nothing was changed."
        ),
        "unknown_class": _("That class is not at your school. Nothing was changed."),
        "not_removable": _(
            "Only the teacher and expert roles can be removed here. Nothing was changed."
        ),
    }
    return problems.get(error.code, _("That did not work. Please check and try again."))


def _taught(classes: tuple[TaughtClass, ...]) -> str:
    if not classes:
        return _("no classes yet")
    return ", ".join(
        _("{name} (head teacher)").format(name=c.name) if c.head_teacher else c.name
        for c in classes
    )


# --- teachers ------------------------------------------------------------------------------


async def show_teachers(message: Message, session: AsyncSession, person: Person) -> None:
    teachers = await list_teachers(session, school_of(person))
    if not teachers:
        await message.answer(_("No teachers yet. Invite one with /invite_teacher."))
        return
    lines = [_("Teachers:")] + [f"• {short(t.name)} — {_taught(t.classes)}" for t in teachers]
    lines += ["", _("/assign and /unassign change their classes.")]
    await message.answer("\n".join(lines))


async def start_assigning(message: Message, session: AsyncSession, person: Person) -> None:
    await _offer_teachers(message, session, person, ASSIGN)


async def start_unassigning(message: Message, session: AsyncSession, person: Person) -> None:
    await _offer_teachers(message, session, person, UNASSIGN)


async def _offer_teachers(
    message: Message, session: AsyncSession, person: Person, mode: str
) -> None:
    school_id = school_of(person)
    teachers = await list_teachers(session, school_id)
    if mode == UNASSIGN:
        teachers = [teacher for teacher in teachers if teacher.classes]
        if not teachers:
            await message.answer(_("No teacher is assigned to a class yet."))
            return
    elif not teachers:
        await message.answer(_("No teachers yet. Invite one with /invite_teacher."))
        return
    elif not await list_classes(session, school_id):
        await message.answer(_("No classes yet. Create one with /newclass NAME."))
        return
    builder = InlineKeyboardBuilder()
    for teacher in teachers:
        builder.button(
            text=_teacher_button(teacher),
            callback_data=TeacherPick(mode=mode, teacher=teacher.person_id),
        )
    builder.adjust(1)
    question = (
        _("Whom do you want to assign to classes?")
        if mode == ASSIGN
        else _("Whom do you want to take off classes?")
    )
    await message.answer(question, reply_markup=builder.as_markup())


def _teacher_button(teacher: TeacherEntry) -> str:
    if not teacher.classes:
        return short(teacher.name)
    # Two teachers may share a name: their classes tell them apart.
    return short(f"{short(teacher.name, 24)} · {', '.join(c.name for c in teacher.classes)}")


async def _class_panel(
    session: AsyncSession, school_id: int, teacher_id: int, mode: str
) -> tuple[str, InlineKeyboardMarkup]:
    teacher = await find_teacher(session, school_id, teacher_id)
    assigned = await teacher_assignments(session, school_id, teacher_id)
    classes = await list_classes(session, school_id)
    if mode == UNASSIGN:
        classes = [c for c in classes if c.id in assigned]
    builder = InlineKeyboardBuilder()
    for school_class in classes:
        if mode == UNASSIGN:
            mark = "✕ "
        elif school_class.id not in assigned:
            mark = ""
        else:
            mark = "★ " if assigned[school_class.id] else "✓ "
        builder.button(
            text=mark + school_class.name,
            callback_data=TeacherClass(mode=mode, teacher=teacher_id, class_id=school_class.id),
        )
    builder.adjust(CLASSES_PER_ROW)
    done = TeacherClass(mode=mode, teacher=teacher_id, class_id=DONE)
    builder.row(InlineKeyboardButton(text=_("Done"), callback_data=done.pack()))
    name = short(teacher.full_name)
    if mode == ASSIGN:
        text = _(
            "Classes of {teacher}. Tap a class to assign it (✓), tap again to make them its "
            "head teacher (★), and a third time to take them off it."
        ).format(teacher=name)
    elif classes:
        text = _("Classes of {teacher}. Tap a class to take them off it.").format(teacher=name)
    else:
        text = _("{teacher} is not assigned to any class now.").format(teacher=name)
    return text, builder.as_markup()


async def teacher_chosen(
    query: CallbackQuery, callback_data: TeacherPick, session: AsyncSession, person: Person
) -> None:
    try:
        text, markup = await _class_panel(
            session, school_of(person), callback_data.teacher, callback_data.mode
        )
    except StaffError as problem:
        await query.answer(_staff_problem(problem), show_alert=True)
        return
    await show_in_place(query, text, markup)
    await query.answer()


async def class_tapped(
    query: CallbackQuery, callback_data: TeacherClass, session: AsyncSession, person: Person
) -> None:
    school_id = school_of(person)
    teacher_id, class_id = callback_data.teacher, callback_data.class_id
    try:
        if class_id == DONE:
            await show_in_place(query, await _summary(session, school_id, teacher_id))
            await query.answer()
            return
        assigned = await teacher_assignments(session, school_id, teacher_id)
        if callback_data.mode == ASSIGN and class_id not in assigned:
            await assign_teacher(session, school_id, teacher_id, class_id, actor_id=person.id)
        elif callback_data.mode == ASSIGN and not assigned[class_id]:
            await assign_teacher(
                session, school_id, teacher_id, class_id, actor_id=person.id, head_teacher=True
            )
        else:
            await unassign_teacher(session, school_id, teacher_id, class_id, actor_id=person.id)
        await session.commit()
        text, markup = await _class_panel(session, school_id, teacher_id, callback_data.mode)
    except StaffError as problem:
        await query.answer(_staff_problem(problem), show_alert=True)
        return
    await show_in_place(query, text, markup)
    await query.answer()


async def _summary(session: AsyncSession, school_id: int, teacher_id: int) -> str:
    teacher = await find_teacher(session, school_id, teacher_id)
    entry = next(t for t in await list_teachers(session, school_id) if t.person_id == teacher_id)
    return _("Done. {teacher} teaches: {classes}.").format(
        teacher=short(teacher.full_name), classes=_taught(entry.classes)
    )


# --- experts -------------------------------------------------------------------------------


def _expert_usage() -> str:
    return _(
        "Usage: /invite_expert CATEGORIES LANGUAGES, e.g. /invite_expert law,psych en,zh\n"
        "Categories: law, psych (psychology), family (family education), safety.\n"
        "Languages: en (English), zh (Chinese)."
    )


def _expert_problem(error: StaffError) -> str:
    given = error.details.get("values")
    values = ", ".join(str(value) for value in given) if isinstance(given, list) else ""
    problems = {
        "unknown_categories": _("Unknown category: {values}.").format(values=values),
        "unknown_languages": _("Unknown language: {values}.").format(values=values),
    }
    problem = problems.get(error.code)
    return f"{problem}\n\n{_expert_usage()}" if problem else _expert_usage()


async def invite_expert(
    message: Message, command: CommandObject, session: AsyncSession, person: Person, bot: Bot
) -> None:
    words = _COMMA.sub(",", (command.args or "").strip()).split()
    if len(words) != 2:
        await message.answer(_expert_usage())
        return
    try:
        choice = parse_expert_choice(*words)
    except StaffError as problem:
        await message.answer(_expert_problem(problem))
        return
    _invite, code = await issue_expert_invite(
        session, school_of(person), choice, actor_id=person.id
    )
    link = await create_start_link(bot, code)
    await session.commit()
    await message.answer(
        _(
            "A one-time invite link for an expert in {categories} ({languages}); it expires in "
            "30 days:\n{link}"
        ).format(
            categories=categories_text(choice.categories),
            languages=languages_text(choice.languages),
            link=link,
        )
    )


def _expert_line(expert: ExpertEntry) -> str:
    line = f"{expert.label} — {categories_text(expert.categories)} · "
    line += languages_text(expert.languages)
    return line if expert.on_duty else line + " · " + _("off duty")


async def show_experts(message: Message, session: AsyncSession, person: Person) -> None:
    experts = await list_experts(session, school_of(person))
    if not experts:
        await message.answer(_("No experts yet. Invite one with /invite_expert law,psych en,zh."))
        return
    lines = [_("Experts (by pseudonym):")] + [f"• {_expert_line(e)}" for e in experts]
    await message.answer("\n".join(lines))


# --- removing a role -----------------------------------------------------------------------


async def offer_staff(message: Message, session: AsyncSession, person: Person) -> None:
    school_id = school_of(person)
    teachers = await list_teachers(session, school_id)
    experts = await list_experts(session, school_id)
    if not teachers and not experts:
        await message.answer(_("There are no teachers or experts to remove."))
        return
    builder = InlineKeyboardBuilder()
    for teacher in teachers:
        builder.button(
            text=_("{name} — teacher").format(name=short(teacher.name, 36)),
            callback_data=StaffRemoval(step="ask", person=teacher.person_id, role=Role.TEACHER),
        )
    for expert in experts:
        builder.button(
            text=short(
                _("{label} — expert ({categories})").format(
                    label=expert.label, categories=categories_text(expert.categories)
                )
            ),
            callback_data=StaffRemoval(step="ask", person=expert.person_id, role=Role.EXPERT),
        )
    builder.adjust(1)
    await message.answer(_("Whose role do you want to remove?"), reply_markup=builder.as_markup())


async def _who(session: AsyncSession, school_id: int, person_id: int, role: Role) -> str:
    if role == Role.TEACHER:
        return short((await find_teacher(session, school_id, person_id)).full_name)
    if role == Role.EXPERT:
        return (await find_expert(session, school_id, person_id)).label
    raise StaffError("not_removable")


def _confirm_removal(who: str, callback_data: StaffRemoval) -> tuple[str, InlineKeyboardMarkup]:
    if callback_data.role == Role.TEACHER:
        text = _(
            "Remove {name} as a teacher? They are taken off their classes and can no longer "
            "send notices."
        ).format(name=who)
    else:
        text = _("Remove expert {name}? They will no longer receive parents' questions.").format(
            name=who
        )
    builder = InlineKeyboardBuilder()
    for step, label in (("yes", _("Yes, remove")), ("no", _("Cancel"))):
        builder.button(
            text=label,
            callback_data=StaffRemoval(
                step=step, person=callback_data.person, role=callback_data.role
            ),
        )
    builder.adjust(1)
    return text, builder.as_markup()


async def staff_removal_chosen(
    query: CallbackQuery, callback_data: StaffRemoval, session: AsyncSession, person: Person
) -> None:
    if callback_data.step == "no":
        await show_in_place(query, _("Nothing was changed."))
        await query.answer()
        return
    school_id = school_of(person)
    role = callback_data.role
    try:
        who = await _who(session, school_id, callback_data.person, role)
        if callback_data.step == "yes":
            await remove_staff(session, school_id, callback_data.person, role, actor_id=person.id)
    except StaffError as problem:
        await query.answer(_staff_problem(problem), show_alert=True)
        return
    if callback_data.step != "yes":
        await show_in_place(query, *_confirm_removal(who, callback_data))
        await query.answer()
        return
    await session.commit()
    done = (
        _("{name} is no longer a teacher at your school.")
        if role == Role.TEACHER
        else _("{name} is no longer an expert at your school.")
    )
    await show_in_place(query, done.format(name=who))
    await query.answer()


def build_router() -> Router:
    """The staff router; a new one for every Dispatcher. Put it before the admin router."""
    router = Router(name="staff")
    router.message.filter(F.chat.type == "private")
    admin = HasRole(Role.ADMIN)
    router.message.register(show_teachers, Command("teachers"), admin)
    router.message.register(start_assigning, Command("assign"), admin)
    router.message.register(start_unassigning, Command("unassign"), admin)
    router.message.register(invite_expert, Command("invite_expert"), admin)
    router.message.register(show_experts, Command("experts"), admin)
    router.message.register(offer_staff, Command("remove_staff"), admin)
    router.message.register(refuse_admin_command, Command(*STAFF_COMMANDS))
    router.callback_query.register(teacher_chosen, TeacherPick.filter(), admin)
    router.callback_query.register(class_tapped, TeacherClass.filter(), admin)
    router.callback_query.register(staff_removal_chosen, StaffRemoval.filter(), admin)
    router.callback_query.register(
        refuse_button, or_f(TeacherPick.filter(), TeacherClass.filter(), StaffRemoval.filter())
    )
    return router
