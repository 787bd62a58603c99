"""``safecampus roster``: import and export the student roster as CSV."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from bot import cli_support
from bot.handlers.roster import problems_text, report_text
from bot.i18n import build_i18n
from campus.roster import MAX_BYTES, ParsedRoster, parse_roster
from campus.services.roster import (
    ImportReport,
    ProgressCallback,
    export_roster,
    import_roster,
)
from campus.settings import Settings, load_settings

PROGRESS_BAR_FROM = 500


@contextmanager
def _english() -> Iterator[None]:
    # The bot's texts, in English: one wording for the chat and the terminal.
    i18n = build_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        yield


@contextmanager
def _progress(rows: int) -> Iterator[ProgressCallback | None]:
    if rows < PROGRESS_BAR_FROM:
        yield None
        return
    with click.progressbar(length=rows, label="Importing", file=sys.stderr) as bar:
        shown = 0

        def advance(done: int, _total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        yield advance


async def _import(
    settings: Settings,
    school_id: int | None,
    parsed: ParsedRoster,
    on_progress: ProgressCallback | None,
) -> ImportReport:
    async with cli_support.school_session(settings, school_id) as (session, school):
        return await import_roster(
            session, school, parsed.rows, actor_id=None, on_progress=on_progress
        )


async def _export(settings: Settings, school_id: int | None) -> bytes:
    async with cli_support.school_session(settings, school_id) as (session, school):
        return await export_roster(session, school)


@click.group("roster")
def roster_group() -> None:
    """Import and export the school's student roster (CSV)."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_id", type=int, help="The school's id (default: the only one).")
def import_command(file: Path, school_id: int | None) -> None:
    """Check FILE.csv and, when every row is fine, import it; otherwise import nothing.

    Accepted columns and encodings: docs/roster.md.
    """
    settings = load_settings()
    with file.open("rb") as roster_file:
        data = roster_file.read(MAX_BYTES + 1)
    parsed = parse_roster(data)
    with _english():
        if not parsed.ok:
            click.echo(problems_text(parsed, limit=None), err=True)
            sys.exit(1)
        with _progress(len(parsed.rows)) as on_progress:
            report = asyncio.run(_import(settings, school_id, parsed, on_progress))
        click.echo(report_text(report, parsed.ignored_columns))


@roster_group.command("export")
@click.option("--school", "school_id", type=int, help="The school's id (default: the only one).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_command(school_id: int | None, output: Path | None) -> None:
    """Write the roster as CSV (UTF-8 with BOM, for Excel); it re-imports unchanged."""
    settings = load_settings()
    data = asyncio.run(_export(settings, school_id))
    if output is None:
        click.echo(data, nl=False)
        return
    output.write_bytes(data)
    click.echo(f"roster written to {output}", err=True)
