"""The ``safecampus`` command line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from campus.settings import ConfigError, Settings, load_settings
from knowledge_base.threads import limit_threads

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every step at INFO; the bot logs the revision it reached instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)


class LazyGroup(click.Group):
    """A group whose heavier subcommands are imported only when used: importing aiogram
    alone takes seconds, and a configuration error should not wait for it."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _sep, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy={
        "audit": "bot.audit_commands:audit_group",
        "emulator": "emulator.cli:emulator_command",
        "evidence": "bot.audit_commands:evidence_command",
        "expert": "bot.staff_commands:expert_group",
        "invites": "bot.invite_commands:invites_group",
        "kb": "knowledge_base.cli:kb_group",
        "roster": "bot.roster_commands:roster_group",
        "teacher": "bot.staff_commands:teacher_group",
    },
)
@click.version_option(package_name="safecampus")
def cli() -> None:
    """SafeCampus: school safety notices, acknowledgements and parents' questions on Telegram."""


@cli.command()
@click.option("--api-url", help="Bot API server base URL (self-hosted server or the emulator).")
@click.option(
    "--webhook-url",
    help="Receive updates by webhook at this https URL (overrides SAFECAMPUS_WEBHOOK_URL).",
)
@click.option(
    "--no-duties",
    is_flag=True,
    help="Only receive updates: `safecampus worker` processes send and run the clock.",
)
@click.option(
    "--delete-webhook",
    is_flag=True,
    help="Polling: delete the webhook a webhook-mode run left set.",
)
def run(
    api_url: str | None, webhook_url: str | None, no_duties: bool, delete_webhook: bool
) -> None:
    """Run the bot against Telegram or the server given by --api-url: long polling, or a
    webhook when SAFECAMPUS_WEBHOOK_URL or --webhook-url is set."""
    overrides: dict[str, object] = {"telegram_api_url": api_url} if api_url else {}
    if webhook_url:
        overrides["webhook_url"] = webhook_url
    settings = load_settings(**overrides)
    token = settings.require_token().get_secret_value()
    if delete_webhook and settings.webhook_url:
        raise click.UsageError("--delete-webhook is for polling; this run is in webhook mode")
    _configure_logging(settings)

    from bot.app import (
        leave_webhook_mode,
        open_application,
        run_polling,
        run_webhook,
        webhook_path,
    )

    async def serve() -> None:
        async with open_application(settings, token=token) as app:
            if settings.webhook_url:
                host, port = settings.webhook_address
                await run_webhook(
                    app,
                    url=settings.webhook_url,
                    listen_host=host,
                    listen_port=port,
                    path=webhook_path(settings.webhook_url),
                    duties=not no_duties,
                )
            else:
                await leave_webhook_mode(app, delete_webhook=delete_webhook)
                await run_polling(app, duties=not no_duties)

    _run(serve())


@cli.command()
@click.option("--api-url", help="Bot API server base URL (self-hosted server or the emulator).")
def worker(api_url: str | None) -> None:
    """Send notices and run the clock (reminders, deadlines, expert offers, the daily purge)
    without receiving updates: a district runs one `safecampus run --no-duties` and any
    number of these on PostgreSQL."""
    overrides: dict[str, object] = {"telegram_api_url": api_url} if api_url else {}
    settings = load_settings(**overrides)
    token = settings.require_token().get_secret_value()
    _configure_logging(settings)

    from bot.app import open_worker, run_worker

    async def serve() -> None:
        async with open_worker(settings, token=token) as sending:
            await run_worker(sending)

    _run(serve())


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (the bot also does this at start)."""
    from campus.db import current_revision, open_database

    settings = load_settings()

    async def upgrade() -> str | None:
        async with open_database(settings.effective_database_url) as engine:
            return await current_revision(engine)

    revision = _run(upgrade())
    click.echo(f"database is at revision {revision}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
def db_revision(message: str) -> None:
    """Generate a migration from changes to campus/models.py (for developers)."""
    import tempfile
    from pathlib import Path

    from campus.db import generate_revision

    with tempfile.TemporaryDirectory() as work_dir:
        _run(generate_revision(message, Path(work_dir)))


@db.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted, delete nothing.")
def db_purge(dry_run: bool) -> None:
    """Delete what is past its retention period now (the running bot does this every day
    at 03:30 school time).

    See docs/privacy.md, "Retention".
    """
    from campus.db import create_sessionmaker, open_database
    from campus.services.retention import PurgeReport, purge_expired

    settings = load_settings()

    async def purge() -> PurgeReport:
        async with (
            open_database(settings.effective_database_url) as engine,
            create_sessionmaker(engine)() as session,
        ):
            report = await purge_expired(
                session,
                question_days=settings.question_retention_days,
                evidence_days=settings.evidence_retention_days,
            )
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
            return report

    report = _run(purge())
    for kind, count in report.counts().items():
        click.echo(f"{kind.replace('_', ' ')}: {count}")
    verdict = "dry run, nothing was deleted" if dry_run else "deleted"
    click.echo(f"{report.total} rows past retention ({verdict})")


@cli.group()
def school() -> None:
    """Set up a school."""


@school.command("init")
@click.option("--name", required=True, help="The school's name.")
@click.option("--bot-username", help="The bot's @username (default: asked from Telegram).")
def school_init(name: str, bot_username: str | None) -> None:
    """Create a school and print the one-time link that makes its administrator."""
    from bot.setup import create_school_with_claim_link

    settings = load_settings()
    link = _run(create_school_with_claim_link(settings, name, bot_username))
    click.echo(f"School {name!r} created.")
    click.echo("Open this link in Telegram to become its administrator (it works once):")
    click.echo(link)


@cli.command()
@click.option("--quiet", is_flag=True, help="Print only the verdict, not the transcript.")
def demo(quiet: bool) -> None:
    """Play a scripted school day against the local emulator: no token, no network."""
    from bot.demo import run_demo

    failures = _run(run_demo(echo=None if quiet else click.echo))
    for failure in failures:
        click.echo(f"✗ {failure}", err=True)
    if failures:
        click.echo(f"demo: FAILED ({len(failures)} expected replies missing)", err=True)
        sys.exit(1)
    click.echo("demo: every expected reply arrived")


def main() -> None:
    """Entry point: configuration problems end with one line and exit code 2."""
    limit_threads()  # before anything imports numpy
    try:
        cli.main(standalone_mode=False)
    except ConfigError as problem:
        click.echo(f"safecampus: {problem}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as problem:
        problem.show()
        sys.exit(problem.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
