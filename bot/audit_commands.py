"""``safecampus audit verify`` and ``safecampus evidence``: check the ledger, export a
notice's evidence pack."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import click

from campus.db import create_sessionmaker, open_database
from campus.evidence import EvidencePack, build_evidence, evidence_csv, evidence_json
from campus.services.audit import ChainReport, verify_chain
from campus.settings import Settings, load_settings


async def _verify(settings: Settings) -> ChainReport:
    async with (
        open_database(settings.effective_database_url) as engine,
        create_sessionmaker(engine)() as session,
    ):
        return await verify_chain(session)


async def _evidence(settings: Settings, notice_id: int) -> EvidencePack | None:
    async with (
        open_database(settings.effective_database_url) as engine,
        create_sessionmaker(engine)() as session,
    ):
        return await build_evidence(session, notice_id)


def pdf_available() -> bool:
    """Whether reportlab is installed, so that the evidence PDF can be written."""
    return importlib.util.find_spec("reportlab") is not None


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit ledger."""


@audit_group.command("verify")
def verify_command() -> None:
    """Check every ledger entry against the one before it; exit 1 at the first bad entry.

    Deleting the newest entries leaves a shorter chain that still verifies: compare the
    head with one noted earlier (every evidence pack records it).
    """
    report = asyncio.run(_verify(load_settings()))
    if report.intact:
        click.echo(f"ledger intact: {report.entries} entries, head {report.head}")
        return
    click.echo(
        f"ledger BROKEN at entry {report.first_bad_id}: {report.problem} "
        f"({report.entries - 1} entries before it verify, last good hash {report.head})",
        err=True,
    )
    sys.exit(1)


@click.command("evidence")
@click.argument("notice_id", type=int)
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The directory to write the files to (created if missing).",
)
def evidence_command(notice_id: int, directory: Path) -> None:
    """Write the evidence pack of notice NOTICE_ID: notice-ID.json (pseudonymous),
    notice-ID.csv and notice-ID.pdf (with names, for the school's own use). Exits 1 if the
    ledger does not verify (the files are written all the same and say so).

    See docs/notices.md, "Status, evidence and the audit ledger".
    """
    pack = asyncio.run(_evidence(load_settings(), notice_id))
    if pack is None:
        raise click.ClickException(f"there is no notice {notice_id}")
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        directory / f"notice-{notice_id}.json": evidence_json(pack),
        directory / f"notice-{notice_id}.csv": evidence_csv(pack),
    }
    if pdf_available():
        from campus.evidence_pdf import evidence_pdf

        files[directory / f"notice-{notice_id}.pdf"] = evidence_pdf(pack)
    for path, data in files.items():
        path.write_bytes(data)
        click.echo(f"written {path}")
    if not pdf_available():
        click.echo("no PDF: reportlab is not installed", err=True)
    chain = pack.chain
    if chain.intact:
        click.echo(f"ledger intact: {chain.entries} entries, head {chain.head}")
        return
    click.echo(f"WARNING: ledger BROKEN at entry {chain.first_bad_id}: {chain.problem}", err=True)
    sys.exit(1)
