"""Process configuration: one pydantic-settings class, built in ``main()``, never at import.

Sources, highest first: keyword arguments, ``ROBOWATCH_*`` environment variables, an optional
``robowatch.toml`` in the working directory (or the file named by ``ROBOWATCH_CONFIG``).
Nested groups use ``__`` in environment variables, e.g. ``ROBOWATCH_API__PORT``; the short
forms ``ROBOWATCH_API_HOST`` / ``ROBOWATCH_API_PORT`` named in the README are accepted too.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ticketing.policy import parse_duration

__all__ = ["ApiSettings", "AuthSettings", "NotifySettings", "WebhookSettings", "Settings",
           "OpcUaEndpoint", "load_settings"]


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int | None = Field(
        default=None, ge=1, le=64,
        description="uvicorn worker processes; unset: one per CPU this process may use "
                    "(one process is one core's worth of Python; docs/api.md, Speed)")

    def worker_count(self) -> int:
        """``workers``, or one per usable CPU."""
        return self.workers or len(os.sched_getaffinity(0))


# "8h", "15m", "1h30m" as in the policy files; ISO 8601 ("PT8H") and seconds work too.
_Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class AuthSettings(BaseModel):
    """Sign-in and session knobs of the API (``api.config.ApiConfig``; docs/access.md).
    Unset: the API's own default, chosen and explained there."""

    model_config = ConfigDict(extra="forbid")

    token_ttl: _Duration | None = Field(default=None, description="session token lifetime")
    login_window: _Duration | None = Field(
        default=None, description="sliding window the failed logins are counted over")
    login_failures_per_user: int | None = Field(
        default=None, ge=1, description="failed logins of one account per window before 429")
    login_failures_per_address: int | None = Field(
        default=None, ge=1, description="failed logins from one address per window before 429")
    cookie_name: str | None = Field(default=None, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    cookie_secure: bool | None = Field(
        default=None, description="force the session cookie's Secure flag (true behind a "
                                  "TLS-terminating proxy); unset: Secure when the request "
                                  "came over https")
    access_file: Path | None = Field(
        default=None, description="access policy TOML; unset: the packaged one")

    @field_validator("token_ttl", "login_window")
    @classmethod
    def _positive(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v <= timedelta(0):
            raise ValueError("must be longer than zero")
        return v

    def api_options(self) -> dict[str, Any]:
        """The ``create_app`` options these settings set (unset ones keep the API's)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class WebhookSettings(BaseModel):
    url: str = Field(repr=False)  # a bot URL carries its access token: never logged
    format: Literal["generic", "wecom", "dingtalk", "feishu", "slack"] = "generic"

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("webhook url must be http:// or https://")
        return v


class NotifySettings(BaseModel):
    """Where notifications go; which events reach whom is the service policy's business."""

    smtp_url: str | None = Field(
        default=None, repr=False,
        description="smtp://[user:pass@]host[:port], smtps:// (TLS) or smtp+starttls://; "
                    "unset: e-mail notifications fail with that reason, recorded.")
    mail_from: str = "robowatch@localhost"
    webhooks: dict[str, WebhookSettings] = Field(
        default_factory=dict, description="name -> group bot; the policy names them "
                                          "(webhook:<name>)")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, v: str | None) -> str | None:
        if v and urlsplit(v).scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError("smtp_url must start with smtp://, smtps:// or smtp+starttls://")
        return v


class OpcUaEndpoint(BaseModel):
    """One OPC UA server the collector subscribes to."""

    url: str
    username: str | None = None
    password: str | None = None
    publishing_interval_ms: int = Field(default=100, ge=10)

    @field_validator("url")
    @classmethod
    def _opc_scheme(cls, v: str) -> str:
        if urlsplit(v).scheme != "opc.tcp":
            raise ValueError(f"OPC UA endpoint must be an opc.tcp:// URL, got {v!r}")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROBOWATCH_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL/TimescaleDB URL; unset: start an embedded PostgreSQL.",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://[user:pass@]host:port; unset in the demo: in-process amqtt broker.",
    )
    opcua_endpoints: list[OpcUaEndpoint] = Field(default_factory=list)
    api: ApiSettings = Field(default_factory=ApiSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    home: Path = Field(
        default=Path(".robowatch"),
        description="Working state: embedded database, spool, logs. Kept across runs.",
    )
    policy_file: Path | None = Field(
        default=None, description="Service policy TOML; unset: the packaged default."
    )
    mqtt_topic_prefix: str = "robowatch"
    mqtt_client_id: str = "robowatch-collector"
    log_level: str = "INFO"

    @field_validator("database_url", "mqtt_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {v!r}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _short_api_env(cls, data: Any) -> Any:
        # The README documents ROBOWATCH_API_HOST / _PORT; map them onto the nested group.
        if not isinstance(data, dict):
            return data
        api = dict(data.get("api") or {})
        for key in ("host", "port", "workers"):
            env = os.environ.get(f"ROBOWATCH_API_{key.upper()}")
            if env and key not in api:
                api[key] = env
        if api:
            data["api"] = api
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("ROBOWATCH_CONFIG", "robowatch.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
