"""Webhook delivery: POST each update to the bot's URL, in order, until it is accepted.

Like Telegram, an update counts as delivered on any 2xx answer, is retried otherwise, and
the answer may carry one Bot API method to run (``{"method": "sendMessage", ...}`` as
JSON or multipart, which aiogram's webhook handlers send).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout, MultipartReader

from .params import Params, read_multipart_params
from .state import BotState, now

logger = logging.getLogger("emulator.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ReplyExecutor = Callable[[BotState, str, Params], Awaitable[None]]


class WebhookManager:
    """One delivery task per bot with a webhook."""

    def __init__(
        self, execute_reply: ReplyExecutor, *, retry_delay: float = 0.5, timeout: float = 60.0
    ) -> None:
        self._execute_reply = execute_reply
        self.retry_delay = retry_delay
        self._timeout = ClientTimeout(total=timeout)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._session: ClientSession | None = None

    def start(self, bot: BotState) -> None:
        """Start (or restart) delivering ``bot``'s updates to its webhook."""
        previous = self._tasks.pop(bot.id, None)
        if previous is not None:
            previous.cancel()
        self._tasks[bot.id] = asyncio.create_task(
            self._deliver(bot), name=f"emulator-webhook-{bot.id}"
        )

    async def stop(self, bot: BotState) -> None:
        """Stop delivering ``bot``'s updates."""
        task = self._tasks.pop(bot.id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Stop every delivery and close the HTTP client."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(self, bot: BotState) -> None:
        while bot.webhook is not None:
            if not bot.updates:
                await bot.update_signal.wait(3600)
                continue
            update = bot.updates[0]
            if await self._post(bot, update):
                bot.confirm(int(update["update_id"]) + 1)
            else:
                await asyncio.sleep(self.retry_delay)

    async def _post(self, bot: BotState, update: dict[str, object]) -> bool:
        config = bot.webhook
        if config is None:
            return False
        if self._session is None:
            self._session = ClientSession()
        headers = {SECRET_HEADER: config.secret_token} if config.secret_token else {}
        try:
            async with self._session.post(
                config.url, json=update, headers=headers, timeout=self._timeout
            ) as response:
                if not 200 <= response.status < 300:
                    config.last_error_date = now()
                    config.last_error_message = (
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
                    return False
                await self._run_reply(bot, response)
        except (ClientError, TimeoutError, OSError) as error:
            config.last_error_date = now()
            config.last_error_message = str(error) or type(error).__name__
            return False
        return True

    async def _run_reply(self, bot: BotState, response: ClientResponse) -> None:
        content_type = response.headers.get("Content-Type", "")
        params: Params | None = None
        if content_type.startswith("application/json"):
            body = await response.json()
            if isinstance(body, dict) and body.get("method"):
                params = Params(body)
        elif content_type.startswith("multipart/"):
            params = await read_multipart_params(
                MultipartReader(response.headers, response.content)
            )
        if params is None:
            return
        method = params.values.pop("method", None)
        if isinstance(method, str) and method:
            await self._execute_reply(bot, method, params)
