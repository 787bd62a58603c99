"""Getting updates: getUpdates (long polling) and the webhook methods."""

from __future__ import annotations

import asyncio
import copy
import re

from ..errors import bad_request, conflict
from ..state import WebhookConfig
from .base import Answer, Call, api_method

_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)


def _remember_allowed_updates(call: Call) -> None:
    allowed = call.params.get_list("allowed_updates")
    if allowed is not None:
        call.bot.allowed_updates = [str(kind) for kind in allowed]


@api_method("getUpdates")
async def get_updates(call: Call) -> Answer:
    """Pending updates from ``offset``; waits up to ``timeout`` seconds for the first one.

    A newer getUpdates call ends a waiting older one with 409, as Telegram does.
    """
    bot = call.bot
    if bot.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE)
    offset = call.params.get_int("offset")
    limit = min(100, max(1, call.params.get_int("limit") or 100))
    timeout = max(0.0, call.params.get_float("timeout") or 0.0)
    _remember_allowed_updates(call)
    if offset:
        bot.confirm(offset)
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.update_signal.notify()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if bot.poll_generation != generation:
            raise conflict(TERMINATED)
        if bot.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        if bot.updates:
            return Answer([copy.deepcopy(update) for update in list(bot.updates)[:limit]])
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or call.runtime.closing:
            return Answer([])
        await bot.update_signal.wait(remaining)


@api_method("setWebhook")
async def set_webhook(call: Call) -> Answer:
    """Deliver updates by POSTing them to ``url`` (http is accepted, unlike Telegram)."""
    url = call.params.get_str("url") or ""
    if not url:
        return await delete_webhook(call)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = call.params.get_str("secret_token")
    if secret is not None and not _SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = call.params.get_int("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    _remember_allowed_updates(call)
    bot = call.bot
    if call.params.get_bool("drop_pending_updates"):
        bot.drop_pending_updates()
    config = WebhookConfig(
        url=url,
        secret_token=secret,
        max_connections=max_connections,
        ip_address=call.params.get_str("ip_address"),
    )
    already = bot.webhook is not None and (bot.webhook.url, bot.webhook.secret_token) == (
        url,
        secret,
    )
    bot.webhook = config
    call.runtime.webhooks.start(bot)
    bot.update_signal.notify()
    return Answer(True, "Webhook is already set" if already else "Webhook was set")


@api_method("deleteWebhook")
async def delete_webhook(call: Call) -> Answer:
    """Stop webhook delivery; pending updates stay for getUpdates unless dropped."""
    bot = call.bot
    if call.params.get_bool("drop_pending_updates"):
        bot.drop_pending_updates()
    if bot.webhook is None:
        return Answer(True, "Webhook is already deleted")
    bot.webhook = None
    await call.runtime.webhooks.stop(bot)
    return Answer(True, "Webhook was deleted")


@api_method("getWebhookInfo")
async def get_webhook_info(call: Call) -> Answer:
    """The webhook's state, or an empty URL in polling mode."""
    bot = call.bot
    if bot.webhook is None:
        return Answer(
            {"url": "", "has_custom_certificate": False, "pending_update_count": len(bot.updates)}
        )
    return Answer(bot.webhook.info_json(len(bot.updates), bot.allowed_updates))
