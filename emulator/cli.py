"""``safecampus emulator``: run the emulator standalone until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from .core import TelegramEmulator
from .limits import EmulatorLimits


async def serve(host: str, port: int, limits: EmulatorLimits) -> None:
    """Run an emulator until cancelled (Ctrl-C) or sent SIGTERM."""
    emulator = TelegramEmulator(limits=limits)
    base_url = await emulator.start(host=host, port=port)
    click.echo(f"Telegram Bot API emulator listening on {base_url}")
    click.echo(f"  bots: TelegramAPIServer.from_base({base_url!r}); controls: {base_url}/_control")
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await stopped.wait()
    finally:
        await emulator.stop()
        click.echo("Emulator stopped.")


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8081, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--global-rate",
    default=30.0,
    show_default=True,
    type=float,
    help="Messages per second a bot may send overall.",
)
@click.option("--no-limits", is_flag=True, help="Switch every flood limit off.")
def emulator_command(host: str, port: int, global_rate: float, no_limits: bool) -> None:
    """Run a local Telegram Bot API emulator with simulated users."""
    limits = EmulatorLimits(global_per_s=global_rate, enabled=not no_limits)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, limits))
