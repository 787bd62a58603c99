"""The HTTP face of the Bot API: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

from aiohttp import web

from .errors import ApiError, method_not_found, not_found, too_many_requests
from .faults import Fault
from .methods import dispatch, lookup
from .models import JSON
from .params import Params, read_request_params
from .runtime import Runtime
from .state import BotState

MAX_REQUEST_SIZE = 60 * 1024 * 1024
"""Above Telegram's 50 MB upload limit, so oversized files get Telegram's answer."""


def json_response(body: JSON, status: int = 200) -> web.Response:
    """A JSON answer, non-ASCII text kept as is (as Telegram sends it)."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    """A Telegram-shaped error answer."""
    return json_response(error.to_json(), error.error_code)


def _drop_connection(request: web.Request) -> web.Response:
    # Closing the transport before anything is written makes the client see the
    # server disconnect without an answer (aiohttp: ServerDisconnectedError).
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


class BotApiRoutes:
    """Answers Bot API calls and file downloads for every bot token."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def add_to(self, app: web.Application) -> None:
        """Mount the Bot API routes on ``app``."""
        app.router.add_route("*", "/bot{token}/{method}", self.handle_call)
        app.router.add_get("/file/bot{token}/{path:.+}", self.handle_download)

    async def handle_call(self, request: web.Request) -> web.Response:
        """One Bot API call, with the injected faults that apply to it."""
        runtime = self.runtime
        try:
            bot = runtime.state.bot_for_token(request.match_info["token"])
        except ApiError as error:
            return error_response(error)
        name = request.match_info["method"]
        spec = lookup(name)
        runtime.stats.record_call(spec.name if spec else name)
        if spec is None:
            runtime.stats.record_error(name, 404)
            return error_response(method_not_found())
        try:
            params = await read_request_params(request)
        except ApiError as error:
            runtime.stats.record_error(spec.name, error.error_code)
            return error_response(error)
        plan = runtime.faults.plan(spec.name)
        if plan.delay:
            await asyncio.sleep(plan.delay)
        fault = plan.fault
        if fault is not None and fault.kind != "lost":
            return self._fail(request, spec.name, fault)
        status, body = await dispatch(runtime, bot, spec, params)
        if fault is not None:
            return _drop_connection(request)
        return json_response(body, status)

    def _fail(self, request: web.Request, method: str, fault: Fault) -> web.Response:
        if fault.kind == "drop":
            return _drop_connection(request)
        if fault.kind == "429":
            error = too_many_requests(fault.retry_after)
        else:
            error = ApiError(fault.status, _reason(fault.status))
        self.runtime.stats.record_error(method, error.error_code)
        return error_response(error)

    async def handle_download(self, request: web.Request) -> web.Response:
        """A file's bytes, at the ``file_path`` getFile returned."""
        try:
            self.runtime.state.bot_for_token(request.match_info["token"])
        except ApiError as error:
            return error_response(error)
        stored = self.runtime.state.files.by_path(request.match_info["path"])
        if stored is None:
            return error_response(not_found())
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )


async def execute_reply(runtime: Runtime, bot: BotState, name: str, params: Params) -> None:
    """Run a method a webhook answered with; its result goes nowhere, as in Telegram."""
    spec = lookup(name)
    runtime.stats.record_call(spec.name if spec else name)
    if spec is None:
        runtime.stats.record_error(name, 404)
        return
    await dispatch(runtime, bot, spec, params)
