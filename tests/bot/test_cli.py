"""The command line: configuration problems end with one clear line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from campus.db import MIGRATIONS_DIR
from emulator.testing import make_token

SAFECAMPUS = [sys.executable, "-c", "from bot.cli import main; main()"]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFECAMPUS_")}
    clean.update({"SAFECAMPUS_DATA_DIR": str(tmp_path)}, **env)
    return subprocess.run(
        SAFECAMPUS + args, capture_output=True, text=True, env=clean, cwd=tmp_path, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SAFECAMPUS_BOT_TOKEN is not set"),
        ({"SAFECAMPUS_BOT_TOKEN": "12345"}, "SAFECAMPUS_BOT_TOKEN: does not look like"),
        ({"SAFECAMPUS_TIMEZONE": "Moon/Base"}, "SAFECAMPUS_TIMEZONE: unknown time zone"),
        (
            {
                "SAFECAMPUS_BOT_TOKEN": make_token(),
                "SAFECAMPUS_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:1/none",
            },
            "cannot reach the database at postgresql+asyncpg://x@127.0.0.1:1/none",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _run(["run"], tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    result = _run(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    newest = max(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert f"database is at revision {newest}" in result.stdout
    assert (tmp_path / "safecampus.db").exists()


def test_school_init_prints_a_claim_link(tmp_path: Path) -> None:
    result = _run(
        ["school", "init", "--name", "Hope School", "--bot-username", "hope_bot"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "https://t.me/hope_bot?start=" in result.stdout
