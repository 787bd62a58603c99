"""Typed settings, read once from the environment (prefix ``SAFECAMPUS_``) and ``.env``."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d{5,20}:[A-Za-z0-9_-]{30,64}$")
#: What Telegram accepts as a webhook's secret token.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
#: Hosts a webhook may be called on over plain http: this machine (tests, the emulator).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConfigError(Exception):
    """Configuration that SafeCampus cannot run with; the message is one line for the user."""


class Language(StrEnum):
    """The languages every user-facing text exists in."""

    EN = "en"
    ZH = "zh"


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"21:00-07:00"`` as (start, end); None when it is not in that shape."""
    start, sep, end = value.strip().partition("-")
    if not sep:
        return None
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        return None


def parse_listen_address(value: str) -> tuple[str, int] | None:
    """``"0.0.0.0:8080"`` or ``"[::]:8080"`` as (host, port); None when it is not in that shape."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    return host, int(port)


class NluBackend(StrEnum):
    """Who understands parents' questions."""

    BUILTIN = "builtin"
    RASA = "rasa"


class Settings(BaseSettings):
    """Everything a deployment can configure. See the configuration table in README.md."""

    model_config = SettingsConfigDict(
        env_prefix="SAFECAMPUS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str | None = Field(
        default=None, description="Base URL of a self-hosted Bot API server or the emulator."
    )
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str | None = None
    kb_cache: Path | None = None
    timezone: str = "Asia/Shanghai"
    default_language: Language = Language.EN
    log_level: str = "INFO"
    flood_rate_per_s: float = Field(default=1.0, gt=0)
    flood_burst: int = Field(default=8, ge=1)
    flood_mute_seconds: float = Field(default=30.0, ge=0)
    # Knowledge-base answering: the built-in retriever, or a Rasa NLU server in front of it.
    nlu: NluBackend = NluBackend.BUILTIN
    rasa_url: str | None = None
    rasa_timeout_s: float = Field(default=2.0, gt=0)
    # Notices: sending within Telegram's limits, and when reminders may go out.
    delivery_rate_per_s: float = Field(default=25.0, gt=0)
    delivery_chat_interval_s: float = Field(default=1.0, ge=0)
    delivery_timeout_s: float = Field(default=15.0, gt=0)
    # How long a claimed message is a worker's before another may take it over.
    delivery_lease_s: float = Field(default=30.0, gt=0)
    quiet_hours: str = "21:00-07:00"
    tick_seconds: float = Field(default=30.0, gt=0)
    # Expert cases: minutes an offered expert has to claim, hours to answer, per category.
    case_claim_minutes: dict[str, float] = Field(
        default_factory=lambda: {
            "law": 60.0,
            "psych": 30.0,
            "family": 60.0,
            "safety": 30.0,
            "school": 120.0,
        }
    )
    case_answer_hours: dict[str, float] = Field(
        default_factory=lambda: {
            "law": 24.0,
            "psych": 12.0,
            "family": 24.0,
            "safety": 12.0,
            "school": 24.0,
        }
    )
    crisis_repage_minutes: float = Field(default=5.0, gt=0)
    # Retention: parents' questions, and notices with their deliveries (the evidence).
    question_retention_days: int = Field(default=365, ge=1)
    evidence_retention_days: int = Field(default=1095, ge=30)
    # Webhook mode (docs/deployment.md): the https URL Telegram calls; unset means polling.
    webhook_url: str | None = None
    # Where the webhook server listens (behind a TLS-terminating reverse proxy).
    webhook_listen: str = "0.0.0.0:8080"
    # Telegram sends it with every update; unset: a random one for every start.
    webhook_secret: SecretStr | None = None

    @field_validator("bot_token")
    @classmethod
    def _token_has_telegram_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("does not look like a Telegram bot token (digits:secret)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_shape(cls, value: str) -> str:
        if value.strip().lower() in {"", "off", "none"}:
            return ""
        if parse_quiet_hours(value) is None:
            raise ValueError(f"expected HH:MM-HH:MM or 'off', got {value!r}")
        return value.strip()

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_is_https(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        try:
            host, _port = url.hostname, url.port
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a URL: {exc}") from None
        if not host or url.scheme not in {"https", "http"}:
            raise ValueError(
                f"expected an https URL such as https://bot.example.org/telegram, got {value!r}"
            )
        if url.scheme == "http" and host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"Telegram calls webhooks over https only, got {value!r} "
                "(plain http is allowed for 127.0.0.1 and localhost, for tests)"
            )
        return url.geturl()

    @field_validator("webhook_listen")
    @classmethod
    def _webhook_listen_is_host_port(cls, value: str) -> str:
        if parse_listen_address(value) is None:
            raise ValueError(f"expected HOST:PORT such as 0.0.0.0:8080, got {value!r}")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_telegram_accepts(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _rasa_needs_its_url(self) -> Settings:
        if self.nlu is NluBackend.RASA and not (self.rasa_url or "").strip():
            raise ValueError(
                "SAFECAMPUS_NLU=rasa needs SAFECAMPUS_RASA_URL (e.g. http://127.0.0.1:5005)"
            )
        return self

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """When reminders other than urgent alerts wait (school time), or None if never."""
        return parse_quiet_hours(self.quiet_hours) if self.quiet_hours else None

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @property
    def zone(self) -> ZoneInfo:
        """The school's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'safecampus.db').as_posix()}"

    @property
    def webhook_address(self) -> tuple[str, int]:
        """The (host, port) the webhook server listens on."""
        address = parse_listen_address(self.webhook_listen)
        assert address is not None  # validated
        return address

    @property
    def kb_cache_dir(self) -> Path:
        """Where knowledge-base embeddings are cached between starts."""
        return self.kb_cache or self.data_dir / "kb-cache"

    @property
    def kb_learned_dir(self) -> Path:
        """Where knowledge-base entries learned from experts' answers are written (the
        packaged content may be read-only)."""
        return self.data_dir / "kb-learned"

    def require_token(self) -> SecretStr:
        """The bot token, or a ConfigError that says how to set it."""
        if self.bot_token is None:
            raise ConfigError(
                "SAFECAMPUS_BOT_TOKEN is not set: get a token from @BotFather, "
                "or try `safecampus demo`, which needs none"
            )
        return self.bot_token


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            # a model validator's error has no field location: its message names the fields
            (f"SAFECAMPUS_{'_'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"bad configuration: {problems}") from None
