"""Settings from the environment (and a `.env` file), grouped per concern.

The environment names are a public contract (design.md); each group reads its own prefix.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from image2ad.net.urls import config_host

DEFAULT_CORS_ORIGINS = [
    "https://image2ad.com",
    "https://www.image2ad.com",
    "http://localhost:3000",
    "http://localhost:5173",
]
EMULATOR_MOUNT = "/_emulator"


def _env_file() -> str | None:
    return ".env" if Path(".env").is_file() else None


class KieSettings(BaseSettings):
    """Kie.ai account and endpoints; no API key means the built-in emulator."""

    model_config = SettingsConfigDict(env_prefix="KIE_", env_file=_env_file(), extra="ignore")

    api_key: str | None = Field(None, description="Kie.ai API key; unset = built-in emulator")
    base_url: str = Field("https://api.kie.ai", description="Kie main API base URL")
    upload_base_url: str = Field(
        "https://kieai.redpandaai.co", description="Kie file-upload API base URL"
    )
    webhook_hmac_key: str | None = Field(
        None, description="Kie webhook HMAC key; when set, callbacks must be signed"
    )
    create_limit: int = Field(20, description="createTask calls allowed per create_period_s")
    create_period_s: float = Field(10.0, description="Window of the createTask rate limit")
    query_limit: int = Field(10, description="recordInfo calls allowed per second per key")
    timeout_s: float = Field(30.0, description="Per-request timeout for Kie calls")


class JobSettings(BaseSettings):
    """Timing of the job pipeline."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_JOBS_", env_file=_env_file(), extra="ignore"
    )

    image_deadline_s: float = Field(15 * 60, description="Deadline for image jobs")
    video_deadline_s: float = Field(30 * 60, description="Deadline for video jobs")
    poll_schedule_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [3.0, 5.0, 10.0, 15.0, 20.0, 30.0],
        description="Widening recordInfo poll intervals when Kie cannot call us back",
    )
    callback_poll_schedule_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [20.0, 30.0, 60.0, 120.0],
        description="Poll intervals when callbacks are expected: polling is only the fallback",
    )
    submit_grace_s: float = Field(
        120.0, description="Wait for an orphan task's callback before resubmitting"
    )
    sweep_interval_s: float = Field(1.0, description="How often a worker looks for due jobs")
    check_lease_s: float = Field(
        60.0,
        gt=0,
        description="A claimed check's lease: a process killed mid-check delays the job this long",
    )
    workflow_retention_h: float = Field(
        72.0, description="Finished durable workflows older than this are deleted"
    )
    model_recheck_s: float = Field(
        300.0,
        gt=0,
        description="How often a model Kie refused (paused, maintenance…) is probed again",
    )
    fair_share: bool = Field(
        True,
        description="Users take turns at the provider's createTask pace (a user's first job "
        "goes out within seconds however long another user's queue is); false sends jobs "
        "strictly in arrival order",
    )
    max_executor_threads: int = Field(32, description="DBOS executor thread cap")
    heartbeat_s: float = Field(10.0, description="How often a worker records that it is alive")
    executor_dead_after_s: float = Field(
        90.0, description="Silence after which a worker's workflows are recovered by others"
    )

    @field_validator("poll_schedule_s", "callback_poll_schedule_s", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value


class DownloadSettings(BaseSettings):
    """Where provider results may be fetched from, and how slow a fetch may be."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_DOWNLOAD_", env_file=_env_file(), extra="ignore"
    )

    hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra https hosts results may come from, besides Kie's CDN (exact names)",
    )
    http_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Plain-http origins allowed for results, e.g. a standalone Kie emulator "
        "(http://127.0.0.1:8090); nothing else may be fetched over http or from loopback",
    )
    timeout_s: float = Field(300.0, description="Total time allowed for one result download")
    connect_timeout_s: float = Field(10.0, description="Time allowed to resolve and connect")
    min_rate: float = Field(
        16 * 1024, description="Slowest accepted transfer in bytes/s, averaged over rate_window_s"
    )
    rate_window_s: float = Field(
        10.0, description="Window of the minimum-rate check; also the longest allowed stall"
    )

    @field_validator("hosts", "http_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("hosts")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        return [config_host(host) for host in value]


class EmulatorKnobs(BaseSettings):
    """Timings of the built-in Kie emulator (embedded shape only)."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_EMULATOR_", env_file=_env_file(), extra="ignore"
    )

    image_duration_s: float = Field(4.0, description="Emulated image generation time")
    video_duration_s: float = Field(10.0, description="Emulated video generation time")
    failure_rate: float = Field(0.0, description="Share of emulated tasks that fail")
    admin_key: SecretStr | None = Field(
        None,
        description="Bearer key of the emulator's test-steering routes (/_emulator/_admin/…); "
        "unset = no such routes",
    )


class StorageSettings(BaseSettings):
    """An S3-compatible store, used when IMAGE2AD_STORAGE_URL is s3://bucket/prefix.

    Unset fields fall back to the standard AWS_* variables (AWS_REGION, AWS_ACCESS_KEY_ID, …).
    """

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_S3_", env_file=_env_file(), extra="ignore"
    )

    endpoint: str | None = Field(
        None, description="S3 API endpoint URL; unset = AWS S3 (or AWS_ENDPOINT_URL)"
    )
    region: str | None = Field(None, description="Bucket region (R2: auto); unset = AWS_REGION")
    access_key_id: str | None = Field(None, description="Access key id; unset = AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(
        None, description="Secret access key; unset = AWS_SECRET_ACCESS_KEY"
    )
    virtual_hosted_style: bool | None = Field(
        None, description="Address the bucket as a host name; unset = path style (host/bucket)"
    )
    presign_ttl_s: int = Field(
        300, ge=0, le=900, description="Lifetime of presigned download URLs; 0 = stream via the app"
    )
    part_size_mb: int = Field(5, ge=5, le=512, description="Multipart upload part size (MiB)")
    upload_concurrency: int = Field(
        2, ge=1, le=16, description="Parts in flight per upload; RAM ~ (this + 1) x part size"
    )
    timeout_s: float = Field(
        600.0, gt=0, description="Whole-request timeout, including streaming a large object"
    )


class FunctionsSettings(BaseSettings):
    """The seed-compatible endpoints under /functions/v1 (docs/adr/0017)."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_FUNCTIONS_", env_file=_env_file(), extra="ignore"
    )

    wait_s: float = Field(
        600.0,
        gt=0,
        description="How long a request is held open for its job; then 504 with the job id",
    )
    http_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Plain-http origins an imageUrl may name (tests, a local front-end); "
        "otherwise only public https addresses are fetched",
    )

    @field_validator("http_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class SupabaseSettings(BaseSettings):
    """Supabase Auth user tokens accepted by the seed-compatible endpoints."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_SUPABASE_", env_file=_env_file(), extra="ignore"
    )

    jwt_secret: SecretStr | None = Field(
        None,
        description="The project's JWT secret (HS256); unset = Supabase tokens are not accepted",
    )
    jwt_audience: str = Field("authenticated", description="The `aud` a user token must carry")


class WebhookSettings(BaseSettings):
    """Outbound webhooks (docs/adr/0016-webhooks.md)."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGE2AD_WEBHOOKS_", env_file=_env_file(), extra="ignore"
    )

    allow_private: bool = Field(
        False,
        description="Allow endpoints on plain http and on loopback, private or link-local "
        "addresses (tests, a receiver on your own network)",
    )
    retry_delays_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [
            5.0,
            30.0,
            120.0,
            600.0,
            1800.0,
            3600.0,
            7200.0,
            14400.0,
            28800.0,
            28800.0,
        ],
        description="Pauses between the attempts of one delivery (about a day in all)",
    )
    timeout_s: float = Field(10.0, gt=0, description="Time allowed for one delivery attempt")
    max_endpoints: int = Field(10, ge=1, description="Endpoints a user may have")

    @field_validator("retry_delays_s", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value


class Settings(BaseSettings):
    """Everything image2ad reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="IMAGE2AD_", env_file=_env_file(), extra="ignore")

    data_dir: Path = Field(Path("./.image2ad"), description="Embedded data: SQLite and files")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")
    db_pool_size: int = Field(8, description="Database connections kept per process")
    # Overflow connections are closed as soon as they are returned: under steady load that is a
    # connect per checkout (measured: 8 % of a loaded server's time). Prefer a bigger pool.
    db_max_overflow: int = Field(0, description="Extra connections a process may open at peaks")
    db_engine_pool_size: int = Field(
        8, description="Connections per process for the durable-workflow engine's tables"
    )
    storage_url: str | None = Field(None, description="file://… or s3://bucket/prefix")
    public_url: str | None = Field(None, description="Public base URL used for Kie callbacks")
    secret_key: str | None = Field(
        None,
        description="Signs session cookies and result links; unset in the embedded shape = a "
        "key generated once and kept in data_dir/secret_key (mode 0600)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CORS_ORIGINS),
        description="Exact origins allowed by CORS (comma-separated)",
    )
    host: str = Field("127.0.0.1", description="Bind address for `serve`")
    port: int = Field(
        default_factory=lambda: int(os.environ.get("PORT", "8000")),
        description="Port for `serve` (PORT also works)",
    )
    executor_id: str | None = Field(None, description="Stable unique id of this process")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["text", "json"] = Field(
        "text", description="text: one readable line per record; json: one JSON object per line"
    )
    metrics_dir: Path | None = Field(
        None,
        description="Where `serve` and `worker` keep their counted metrics, one file per "
        "executor id, summed by GET /metrics; processes of one host share it "
        "(unset = data_dir/metrics)",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token GET /metrics requires from clients not on loopback "
        "(unset = /metrics answers loopback only)",
    )
    app_version: str = Field("1", description="Pinned durable-workflow application version")
    signup_credits: int = Field(
        10, ge=0, description="Free credits granted to every new account (0 = none)"
    )
    signup_rate_limit: str = Field(
        "5/hour",
        description="Sign-ups per client address (taken accounts count too), e.g. 5/hour",
    )
    password_reset_rate_limit: str = Field(
        "5/hour",
        description="Password reset requests per client address (unknown emails count too)",
    )
    smtp_url: SecretStr | None = Field(
        None,
        description="Mail server for password reset links: smtp://user:pass@host:587 (STARTTLS "
        "when offered), smtps://user:pass@host:465 (TLS from the start) or smtp://host:25; "
        "unset = no email, resets by `image2ad users reset-password`",
    )
    mail_from: str | None = Field(
        None, description="Sender address of emails; unset = image2ad@<host of the public URL>"
    )
    forwarded_allow_ips: str = Field(
        default_factory=lambda: os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"),
        description="Proxies whose X-Forwarded-For/-Proto `serve` believes (comma-separated "
        "addresses or networks, '*' = any, '' = none; uvicorn's FORWARDED_ALLOW_IPS also works)",
    )
    result_link_ttl_s: int = Field(
        900, ge=1, le=900, description="Lifetime of signed result links (at most 15 minutes)"
    )
    max_result_bytes: int = Field(1024**3, description="Largest result we download")
    api_rate_limit: str = Field("600/minute", description="API requests per user")
    job_rate_limit: str = Field("60/minute", description="Job creations per user")
    cancel_after_submit: Literal["refund", "keep"] = Field(
        "refund",
        description="A cancel after Kie accepted the task (it runs on and is paid for): "
        "refund the credit, or keep it (README: cancel policy)",
    )
    credits_url: str | None = Field(
        None,
        description='Where the pages\' "Get credits" link goes (your billing page, a contact '
        "form, a mailto:); unset = no link",
    )
    credits_low_threshold: int = Field(
        3,
        ge=0,
        description="A balance below this is low: /api/v1/me says credits_low and the Credits "
        "page says so (0 = never)",
    )
    max_active_jobs: int = Field(
        20, description="Unfinished jobs a user may have at once (429 beyond)"
    )
    catalog_file: Path | None = Field(
        None, description="TOML or JSON changes to the model catalog (docs/models.md)"
    )
    shutdown_grace_s: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM: time for open requests, then again for running workflows, "
        "before the rest is handed over to other workers",
    )

    kie: KieSettings = Field(default_factory=KieSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    emulator: EmulatorKnobs = Field(default_factory=EmulatorKnobs)
    download: DownloadSettings = Field(default_factory=DownloadSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    functions: FunctionsSettings = Field(default_factory=FunctionsSettings)
    supabase: SupabaseSettings = Field(default_factory=SupabaseSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    @field_validator("credits_url")
    @classmethod
    def _check_credits_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://", "mailto:", "/")) or value.startswith("//"):
            raise ValueError("use an http(s):// or mailto: link, or a path on this site")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("use smtp://[user:pass@]host[:port] or smtps://…")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'image2ad.sqlite').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "files").resolve().as_uri()

    @cached_property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_mail_from(self) -> str:
        return self.mail_from or f"image2ad@{urlsplit(self.resolved_public_url).hostname}"

    @cached_property
    def resolved_metrics_dir(self) -> Path:
        return (self.metrics_dir or self.data_dir / "metrics").resolve()

    @property
    def uses_emulator(self) -> bool:
        return not self.kie.api_key

    @property
    def is_embedded(self) -> bool:
        """The single-machine default: SQLite and the built-in emulator."""
        return self.resolved_database_url.startswith("sqlite") and self.uses_emulator

    def check_secrets(self) -> None:
        """Refuse to start without a usable signing key (image2ad/secret_key.py)."""
        from image2ad.secret_key import signing_key

        signing_key(self)
