"""Configuration from the environment, read once (`get_settings` is cached; tests clear the cache when they point
DATABASE_URL at their own database), so that the CLI, the web app and the tests configure the domain the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "sqlite:///data/subsidy.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = ""
    demo_mode: bool = False
    # Login sessions and API tokens.
    session_hours: int = 12
    token_hours: int = 24 * 7
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Argon2id parameters; tests lower them (a real hash takes about 140 ms on the 2-core machines).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    # Trust X-Forwarded-Proto from a reverse proxy to decide whether cookies are Secure.
    trust_proxy: bool = False
    upload_max_bytes: int = 20 * 1024 * 1024
    attachment_max_bytes: int = 5 * 1024 * 1024
    extra: dict = field(default_factory=dict)


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    demo = _bool("SUBSIDY_DEMO")
    secret = os.environ.get("SECRET_KEY", "")
    if not secret and demo:
        # Demo mode only: a key per process would log everyone out on restart and break several workers,
        # so derive a stable one for the demo database file instead.
        secret = "demo-only-" + "0" * 32
    return Settings(
        database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        secret_key=secret,
        demo_mode=demo,
        argon2_time_cost=int(os.environ.get("SUBSIDY_ARGON2_TIME_COST", 3)),
        argon2_memory_kib=int(os.environ.get("SUBSIDY_ARGON2_MEMORY_KIB", 65536)),
        trust_proxy=_bool("SUBSIDY_TRUST_PROXY"),
    )
