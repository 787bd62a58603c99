from __future__ import annotations

from pathlib import Path

import pytest

from campus.settings import ConfigError, Language, load_settings

GOOD_TOKEN = "123456789:AAHk0JQ7p9r5V8sXw3mZb2LcT1nYq4uEoGd"


def test_defaults_embed_sqlite_under_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFECAMPUS_DATABASE_URL", raising=False)
    settings = load_settings(data_dir=Path("/srv/school"))
    assert settings.effective_database_url == "sqlite+aiosqlite:////srv/school/safecampus.db"
    assert settings.zone.key == "Asia/Shanghai"
    assert settings.default_language is Language.EN


def test_environment_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECAMPUS_BOT_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("SAFECAMPUS_TIMEZONE", "Europe/Berlin")
    settings = load_settings()
    assert settings.require_token().get_secret_value() == GOOD_TOKEN
    assert GOOD_TOKEN not in repr(settings)
    assert settings.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        (
            "bot_token",
            "not-a-token",
            "SAFECAMPUS_BOT_TOKEN: does not look like a Telegram bot token",
        ),
        ("timezone", "Mars/Olympus", "SAFECAMPUS_TIMEZONE: unknown time zone"),
        ("log_level", "LOUD", "SAFECAMPUS_LOG_LEVEL: unknown log level"),
    ],
)
def test_bad_values_give_one_readable_line(field: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**{field: value})
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_token_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFECAMPUS_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="BotFather"):
        load_settings().require_token()
