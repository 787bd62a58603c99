"""Notice delivery benchmarks: the outbox, the delivery worker and acknowledgements, against
the emulator running as its own process (``safecampus emulator``).

* broadcast-limited - one safety alert to N guardians (one child each, private chats) with
  Telegram-like limits (30 messages/s overall, 1/s per chat) and the worker at 30/s: wall
  time against the N/30 s floor, 429s and whether each was honoured, losses, duplicates.
* broadcast-unlimited - the same with no limits and a high worker rate: sustained
  messages/s and CPU time per message of the bot process.
* kill-restart - a real ``safecampus run`` process is killed with SIGKILL part-way through
  a broadcast and started again: losses, duplicates, marked possible copies, recovery time.
* ack-burst - N parents press "acknowledge" within a few seconds (through the emulator's
  press_button): acknowledgements recorded, latency from press to answerCallbackQuery.

In broadcast-* the bot runs in this process (``open_application`` + ``background_duties``,
knowledge base loaded as in production); in kill-restart and ack-burst it is a separate
``safecampus run`` process. Each run prints its figures and, last, one JSON line.

    .venv/bin/python bench/notices.py broadcast-limited
    .venv/bin/python bench/notices.py broadcast-unlimited --postgres
    .venv/bin/python bench/notices.py kill-restart --lease 30
    .venv/bin/python bench/notices.py ack-burst --limits telegram
"""

from __future__ import annotations

# ruff: noqa: E402 - the thread limits must be set before numpy is imported
from knowledge_base.threads import limit_threads

limit_threads()

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from notices_harness import (
    TELEGRAM_LIKE,
    BenchSchool,
    BotProcess,
    EmulatorProcess,
    SendLog,
    audit_chain,
    audit_chats,
    bench_database,
    bench_settings,
    database_label,
    load_average,
    make_school,
    outbox_states,
    percentile,
    publish_alert,
    settings_overrides,
    uncertain_rows,
    wait_idle,
)
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import background_duties, open_application
from campus.db import create_sessionmaker, open_database
from campus.models import Acknowledgement, OutboxMessage, OutboxState

Figures = dict[str, Any]


def report(name: str, figures: Figures, lines: list[str]) -> None:
    print(f"== {name} ==")
    for line in lines:
        print(line)
    print(json.dumps({"benchmark": name, **figures}, sort_keys=True))


def common_figures(args: argparse.Namespace, url: str) -> Figures:
    return {
        "database": database_label(url),
        "deliveries": args.deliveries,
        "load_average_start": load_average(),
        "python": platform.python_version(),
    }


# broadcast-limited and broadcast-unlimited


async def broadcast(args: argparse.Namespace, *, limited: bool) -> None:
    name = "broadcast-limited" if limited else "broadcast-unlimited"
    n = args.deliveries
    with tempfile.TemporaryDirectory(prefix="safecampus-bench-") as tmp:
        workdir = Path(tmp)
        emulator = EmulatorProcess(workdir, limits=limited, global_rate=args.global_rate)
        async with (
            emulator as emu,
            bench_database(args.database_url, postgres=args.postgres, workdir=workdir) as url,
            open_database(url) as engine,
        ):
            figures = common_figures(args, url)
            control = emu.control
            if limited:
                figures["emulator_limits"] = await control.set_limits(
                    **{**TELEGRAM_LIKE, "global_per_s": args.global_rate}
                )
            users = await control.create_users(n + 1)
            sessionmaker = create_sessionmaker(engine)
            school = await make_school(sessionmaker, users[1:], users[0])
            overrides = settings_overrides(
                url, emu.base_url, workdir, rate=args.rate, lease=args.lease
            )
            settings = bench_settings(overrides)
            async with open_application(settings, token=overrides["bot_token"]) as app:
                sends = SendLog()
                app.delivery.bot.session.middleware(sends)
                statements = StatementCounter(app.engine)
                batch = app.delivery.batch
                if args.catch_up is not None:
                    app.delivery.pacer.catch_up = args.catch_up
                figures["pacer_catch_up_s"] = app.delivery.pacer.catch_up
                async with background_duties(app):
                    await asyncio.sleep(1.0)  # the start-up tick has run; the worker is idle
                    idle_cpu_per_s = await idle_cpu_rate(control, seconds=3.0)
                    await control.reset_stats()
                    publish_start = time.monotonic()
                    notice_id = await publish_alert(sessionmaker, school)
                    published = time.monotonic()
                    # From here on: claiming, rendering, sending and recording only.
                    cpu_start, emu_cpu_start = time.process_time(), emu.cpu_seconds()
                    statements.count = 0
                    app.delivery.nudge()
                    last_seen = await control.wait_sent(n, within=n / min(args.rate, 30) * 3 + 60)
                    idle_at = await wait_idle(sessionmaker, within=120)
                    cpu_used = time.process_time() - cpu_start
                    emu_cpu_used = emu.cpu_seconds() - emu_cpu_start
                    bot_statements = statements.count
            stats = await control.stats()
            audit = await audit_chats(control, school.guardian_chats, notice_id)
            states = await outbox_states(sessionmaker)
            chain = await audit_chain(sessionmaker)
        figures["load_average_end"] = load_average()
        delivered = sends.delivered()
        first, last = delivered[0].finished, delivered[-1].finished
        wall = last - published
        floor = n / min(args.rate, args.global_rate) if limited else None
        figures.update(
            worker_rate_per_s=args.rate,
            publish_s=round(published - publish_start, 3),
            publish_to_first_s=round(first - published, 3),
            publish_to_last_s=round(wall, 3),
            publish_to_last_seen_by_emulator_s=round(last_seen - published, 3),
            publish_to_outbox_idle_s=round(idle_at - published, 3),
            sustained_per_s=round((len(delivered) - 1) / (last - first), 1),
            send_calls=len(sends.records),
            responses_429=len(sends.floods()),
            emulator_errors=stats["errors"],
            sends_started_during_a_pause=sends.sends_during_pauses(),
            bot_sql_statements_per_message=round(bot_statements / n, 1),
            emulator_duplicate_texts=stats["duplicate_count"],
            outbox=states,
            audit_chain=chain,
            **audit.to_json(),
        )
        limits = f"Telegram-like limits, {args.global_rate}/s overall" if limited else "no limits"
        lines = [
            f"{n} deliveries, {figures['database']}, worker rate {args.rate}/s, emulator {limits}",
            f"publish (one transaction): {figures['publish_s']} s",
            f"publish -> first message {figures['publish_to_first_s']} s, -> last message "
            f"{wall:.2f} s (emulator poll: {figures['publish_to_last_seen_by_emulator_s']} s), "
            f"sustained {figures['sustained_per_s']} msg/s; "
            f"{figures['bot_sql_statements_per_message']} SQL statements per message",
        ]
        if floor is not None:
            figures["floor_s"] = floor
            figures["over_floor"] = round(wall / floor - 1, 4)
            figures["pace"] = pace = sends.slips(min(args.rate, args.global_rate), batch)
            lines.append(f"floor {floor:.1f} s: {wall / floor - 1:+.2%} (goal: within 5%)")
            lines.append(
                f"behind the pace for good: {pace['behind_s']} s, of which "
                f"{pace['behind_at_batch_starts_s']} s at the first send of a claimed batch "
                f"(batch {batch}); largest slips [s, position in batch]: "
                f"{pace['largest_slips']}"
            )
        cpu_net = cpu_used - idle_cpu_per_s * (idle_at - published)
        figures.update(
            bot_process_cpu_s=round(cpu_used, 3),
            bot_idle_cpu_per_s=round(idle_cpu_per_s, 4),
            bot_cpu_ms_per_message=round(cpu_used / n * 1000, 3),
            bot_cpu_ms_per_message_net_of_idle=round(cpu_net / n * 1000, 3),
            emulator_cpu_ms_per_message=round(emu_cpu_used / n * 1000, 3),
        )
        lines.append(
            f"bot process CPU {cpu_used:.2f} s = {cpu_used / n * 1000:.2f} ms/message "
            f"({cpu_net / n * 1000:.2f} net of the idle baseline "
            f"{idle_cpu_per_s * 1000:.1f} ms/s); emulator process "
            f"{emu_cpu_used / n * 1000:.2f} ms/message"
        )
        lines += [
            f"429s: {figures['responses_429']}, sends started during a pause: "
            f"{figures['sends_started_during_a_pause']}; emulator errors {stats['errors']}",
            f"chats: {audit.line()}",
            f"outbox: {states}; audit chain {chain}",
            f"load average {figures['load_average_start']} -> {figures['load_average_end']}",
        ]
        report(name, figures, lines)


class StatementCounter:
    """Counts the SQL statements the bot's engine runs (the worker's and its tick's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


async def idle_cpu_rate(control: Any, *, seconds: float) -> float:
    """This process's CPU per second while the worker idles and the emulator is polled as
    during a run: the baseline subtracted from the per-message figure."""
    start_cpu, start = time.process_time(), time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        await control.stats()
        await asyncio.sleep(0.05)
    return (time.process_time() - start_cpu) / (time.monotonic() - start)


# kill-restart


async def kill_restart(args: argparse.Namespace) -> None:
    n = args.deliveries
    with tempfile.TemporaryDirectory(prefix="safecampus-bench-") as tmp:
        workdir = Path(tmp)
        limited = args.limits == "telegram"
        emulator = EmulatorProcess(workdir, limits=limited, global_rate=30.0)
        async with (
            emulator as emu,
            bench_database(args.database_url, postgres=args.postgres, workdir=workdir) as url,
            open_database(url) as engine,
        ):
            figures = common_figures(args, url)
            control = emu.control
            users = await control.create_users(n + 1)
            sessionmaker = create_sessionmaker(engine)
            school = await make_school(sessionmaker, users[1:], users[0])
            overrides = settings_overrides(
                url, emu.base_url, workdir, rate=args.rate, lease=args.lease, timeout=args.timeout
            )
            bot = BotProcess(overrides, emu.base_url, workdir / "bot.log")
            try:
                bot.start()
                await bot.wait_ready()
                await control.reset_stats()
                notice_id = await publish_alert(sessionmaker, school)
                published = time.monotonic()
                kill_at = int(n * args.kill_at)
                await control.wait_sent(kill_at, within=n / min(args.rate, 30) + 60, every=0.02)
                bot.kill_hard()
                killed = time.monotonic()
                sent_at_kill = (await control.stats())["messages_sent"]
                at_kill = await outbox_states(sessionmaker)
                async with sessionmaker() as session:
                    orphans = set(
                        await session.scalars(
                            select(OutboxMessage.id).where(
                                OutboxMessage.state == OutboxState.SENDING
                            )
                        )
                    )
                bot.start()
                restarted = time.monotonic()
                ready = await bot.wait_ready()
                recovered, done = await watch_recovery(sessionmaker, orphans, within=n / 10 + 300)
            finally:
                bot.stop()
            stats = await control.stats()
            audit = await audit_chats(control, school.guardian_chats, notice_id)
            states = await outbox_states(sessionmaker)
            uncertain = await uncertain_rows(sessionmaker)
            chain = await audit_chain(sessionmaker)
        figures["load_average_end"] = load_average()
        figures.update(
            emulator_limits="Telegram-like, 30/s overall" if limited else "none",
            worker_rate_per_s=args.rate,
            lease_s=args.lease,
            request_timeout_s=args.timeout,
            killed_after_messages=sent_at_kill,
            killed_after_s=round(killed - published, 2),
            outbox_at_kill=at_kill,
            rows_sending_at_kill=len(orphans),
            restart_to_ready_s=round(ready - restarted, 2),
            kill_to_orphans_done_s=round(recovered - killed, 2),
            ready_to_orphans_done_s=round(recovered - ready, 2),
            publish_to_all_done_s=round(done - published, 2),
            outbox=states,
            uncertain_rows=uncertain,
            emulator_messages=stats["messages_sent"],
            emulator_errors=stats["errors"],
            audit_chain=chain,
            **audit.to_json(),
        )
        lines = [
            f"{n} deliveries, {figures['database']}, worker rate {args.rate}/s, emulator "
            f"limits: {figures['emulator_limits']}, lease {args.lease} s, request timeout "
            f"{args.timeout} s",
            f"SIGKILL after {sent_at_kill} messages ({figures['killed_after_s']} s); outbox "
            f"then {at_kill}",
            f"restart -> ready {figures['restart_to_ready_s']} s; rows left 'sending' "
            f"({len(orphans)}) all finished {figures['kill_to_orphans_done_s']} s after the "
            f"kill ({figures['ready_to_orphans_done_s']} s after ready)",
            f"publish -> all done {figures['publish_to_all_done_s']} s",
            f"chats: {audit.line()}",
            f"outbox: {states}, uncertain rows {uncertain}; audit chain {chain}",
            f"load average {figures['load_average_start']} -> {figures['load_average_end']}",
        ]
        report("kill-restart", figures, lines)


async def watch_recovery(
    sessionmaker: Any, orphans: set[int], *, within: float
) -> tuple[float, float]:
    """When the rows left 'sending' by the dead process were all finished, and when the
    whole outbox was."""
    deadline = time.monotonic() + within
    recovered: float | None = None if orphans else time.monotonic()
    while True:
        async with sessionmaker() as session:
            if recovered is None:
                open_orphans = await session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.id.in_(orphans),
                        OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                    )
                )
                if not open_orphans:
                    recovered = time.monotonic()
            busy = await session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])
                )
            )
        if recovered is not None and not busy:
            return recovered, time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox not done: {await outbox_states(sessionmaker)}")
        await asyncio.sleep(0.1)


# ack-burst


async def ack_burst(args: argparse.Namespace) -> None:
    n = args.deliveries
    with tempfile.TemporaryDirectory(prefix="safecampus-bench-") as tmp:
        workdir = Path(tmp)
        emulator = EmulatorProcess(workdir, limits=False)
        async with (
            emulator as emu,
            bench_database(args.database_url, postgres=args.postgres, workdir=workdir) as url,
            open_database(url) as engine,
        ):
            figures = common_figures(args, url)
            control = emu.control
            users = await control.create_users(n + 1)
            sessionmaker = create_sessionmaker(engine)
            school = await make_school(sessionmaker, users[1:], users[0])
            overrides = settings_overrides(url, emu.base_url, workdir, rate=1000)
            bot = BotProcess(overrides, emu.base_url, workdir / "bot.log")
            try:
                bot.start()
                await bot.wait_ready()
                notice_id = await publish_alert(sessionmaker, school)
                await wait_idle(sessionmaker, within=300)
                buttons = await ack_buttons(control, school, notice_id)
                if args.limits == "telegram":
                    figures["emulator_limits"] = await control.set_limits(**TELEGRAM_LIKE)
                else:
                    figures["emulator_limits"] = "none"
                await control.reset_stats()
                figures["load_average_start"] = load_average()
                bot_cpu_start, emu_cpu_start = bot.cpu_seconds(), emu.cpu_seconds()
                started = time.monotonic()
                results = await press_all(control, buttons, args.window, args.answer_timeout)
                finished = time.monotonic()
                bot_cpu = bot.cpu_seconds() - bot_cpu_start
                emu_cpu = emu.cpu_seconds() - emu_cpu_start
                await asyncio.sleep(2.0)  # edits or writes still under way
                stats = await control.stats()
            finally:
                bot.stop()
            async with sessionmaker() as session:
                acks = await session.scalar(
                    select(func.count(Acknowledgement.id)).where(
                        Acknowledgement.notice_id == notice_id
                    )
                )
                acked_deliveries = await session.scalar(
                    select(func.count(func.distinct(Acknowledgement.delivery_id))).where(
                        Acknowledgement.notice_id == notice_id
                    )
                )
            chain = await audit_chain(sessionmaker)
            errors = bot.log_lines(" ERROR ")
        figures["load_average_end"] = load_average()
        latencies = [latency for latency, answer in results if answer is not None]
        answers: dict[str, int] = {}
        for _latency, answer in results:
            text = "(no answer)" if answer is None else str(answer.get("text"))
            answers[text] = answers.get(text, 0) + 1
        figures.update(
            window_s=args.window,
            presses=len(results),
            answered=len(latencies),
            answers=answers,
            acknowledgement_rows=int(acks or 0),
            acknowledged_deliveries=int(acked_deliveries or 0),
            latency_p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
            latency_p95_ms=round(percentile(latencies, 0.95) * 1000, 1),
            latency_max_ms=round(max(latencies, default=float("nan")) * 1000, 1),
            burst_s=round(finished - started, 2),
            bot_process_cpu_s=round(bot_cpu, 2),
            emulator_process_cpu_s=round(emu_cpu, 2),
            emulator_calls={
                k: v
                for k, v in stats["calls"].items()
                if k in ("editMessageText", "answerCallbackQuery", "getUpdates")
            },
            emulator_errors=stats["errors"],
            bot_error_log_lines=len(errors),
            audit_chain=chain,
        )
        lines = [
            f"{n} presses spread over {args.window} s, {figures['database']}, emulator limits: "
            f"{'Telegram-like' if args.limits == 'telegram' else 'none'}",
            f"answered {len(latencies)} of {len(results)}; Acknowledgement rows "
            f"{figures['acknowledgement_rows']} ({figures['acknowledged_deliveries']} deliveries)",
            f"press -> answerCallbackQuery: p50 {figures['latency_p50_ms']} ms, p95 "
            f"{figures['latency_p95_ms']} ms, max {figures['latency_max_ms']} ms",
            f"answers: {answers}",
            f"bot process CPU {bot_cpu:.2f} s during the burst ({figures['burst_s']} s); "
            f"emulator {emu_cpu:.2f} s",
            f"emulator calls {figures['emulator_calls']}, errors {stats['errors']}; bot ERROR "
            f"log lines {len(errors)}",
            f"audit chain {chain}",
            f"load average {figures['load_average_start']} -> {figures['load_average_end']}",
        ]
        for line in errors[:5]:
            lines.append(f"  bot log: {line[:200]}")
        report("ack-burst", figures, lines)


async def ack_buttons(
    control: Any, school: BenchSchool, notice_id: int
) -> list[tuple[int, int, str]]:
    """(user, message id, callback data) of each guardian's acknowledge button."""
    logs = await control.chat_logs(school.guardian_chats)
    buttons = []
    for chat_id, log in logs.items():
        [message] = [m for m in log if f"Notice #{notice_id} ·" in m["text"]]
        [[button]] = message["reply_markup"]["inline_keyboard"]
        buttons.append((chat_id, int(message["message_id"]), str(button["callback_data"])))
    return buttons


async def press_all(
    control: Any, buttons: list[tuple[int, int, str]], window: float, answer_within: float
) -> list[tuple[float, dict[str, Any] | None]]:
    """Press every button, evenly spread over ``window`` seconds; (latency, answer) each."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    step = window / max(1, len(buttons))

    async def press(index: int, user: int, message_id: int, data: str) -> tuple[float, Any]:
        await asyncio.sleep(max(0.0, start + index * step - loop.time()))
        pressed = loop.time()
        answer = await control.press_button(user, message_id, data, answer_within)
        return loop.time() - pressed, answer

    return list(await asyncio.gather(*(press(i, *button) for i, button in enumerate(buttons))))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="benchmark", required=True)

    def add(name: str, deliveries: int, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--deliveries", type=int, default=deliveries)
        command.add_argument(
            "--database-url", help="default: a new SQLite file in a temporary directory"
        )
        command.add_argument(
            "--postgres",
            action="store_true",
            help="a fresh PostgreSQL database at 127.0.0.1:5432, dropped afterwards",
        )
        return command

    limited = add("broadcast-limited", 3000, "Telegram-like limits, worker at 30/s")
    limited.add_argument("--rate", type=float, default=30.0, help="the worker's rate")
    limited.add_argument("--global-rate", type=float, default=30.0, help="the emulator's")
    limited.add_argument("--lease", type=float, default=30.0)
    limited.add_argument(
        "--catch-up", type=float, help="the pacer's catch-up after a stall, s (0: none)"
    )
    unlimited = add("broadcast-unlimited", 3000, "no limits, high worker rate")
    unlimited.add_argument("--rate", type=float, default=1000.0)
    unlimited.add_argument("--lease", type=float, default=30.0)
    unlimited.set_defaults(global_rate=30.0, catch_up=None)
    restart = add("kill-restart", 5000, "SIGKILL the bot part-way, restart it")
    restart.add_argument("--rate", type=float, default=30.0)
    restart.add_argument("--limits", choices=["telegram", "off"], default="telegram")
    restart.add_argument("--lease", type=float, default=30.0, help="SAFECAMPUS_DELIVERY_LEASE_S")
    restart.add_argument(
        "--timeout", type=float, default=15.0, help="SAFECAMPUS_DELIVERY_TIMEOUT_S"
    )
    restart.add_argument("--kill-at", type=float, default=0.4, help="share of messages sent")
    burst = add("ack-burst", 2000, "acknowledge presses in a burst")
    burst.add_argument("--window", type=float, default=10.0, help="seconds the presses span")
    burst.add_argument("--limits", choices=["telegram", "off"], default="off")
    burst.add_argument("--answer-timeout", type=float, default=120.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    runs: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, None]]] = {
        "broadcast-limited": lambda a: broadcast(a, limited=True),
        "broadcast-unlimited": lambda a: broadcast(a, limited=False),
        "kill-restart": kill_restart,
        "ack-burst": ack_burst,
    }
    asyncio.run(runs[args.benchmark](args))


if __name__ == "__main__":
    main()
