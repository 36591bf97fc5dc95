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


DEMO_AUDIT_KEY = "demo:demo-only-audit-key-not-for-production-000000"
# The demo's keys for ID numbers and phones at rest (subsidy/core/vault.py): fixed, like its SECRET_KEY, so that a
# restarted demo still reads its own database.
DEMO_DATA_KEY = "demo:demo-only-data-key-not-for-production-0000000"
DEMO_LOOKUP_KEY = "demo-only-lookup-key-not-for-production-000000"


class AuditKeys:
    """The audit log's HMAC keys (subsidy/core/audit.py): the current one signs, the retired ones still verify.
    Each is `<id>:<secret>`; ids are short names chosen at rotation (`2026a`), secrets at least 32 characters."""

    CURRENT, OLD, PURPOSE = "SUBSIDY_AUDIT_KEY", "SUBSIDY_AUDIT_OLD_KEYS", "the audit log cannot be written or sealed"

    def __init__(self, current: str = "", old: str = "", *, forbidden: str = "") -> None:
        self._current: tuple[str, bytes] | None = None
        self._all: dict[str, bytes] = {}
        for n, spec in enumerate([current, *old.split(",")]):
            spec = spec.strip()
            if not spec:
                continue
            key_id, sep, secret = spec.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id or len(key_id) > 32 or len(secret) < 32:
                raise SystemExit(f"{self.CURRENT} and {self.OLD} take `<id>:<secret>` with an id of at "
                                 "most 32 characters and a secret of at least 32 (for example "
                                 "`2026a:$(openssl rand -hex 32)`).")
            if forbidden and secret == forbidden:
                raise SystemExit(f"{self.CURRENT} must differ from SECRET_KEY: the key must not be the one the "
                                 "web server signs cookies with.")
            self._all.setdefault(key_id, secret.encode())
            if n == 0:
                self._current = (key_id, secret.encode())

    @property
    def configured(self) -> bool:
        return self._current is not None

    def current(self) -> tuple[str, bytes]:
        if self._current is None:
            raise RuntimeError(f"{self.CURRENT} is not set: {self.PURPOSE} without it (see the README, production).")
        return self._current

    def get(self, key_id: str) -> bytes | None:
        return self._all.get(key_id)

    def ids(self) -> list[str]:
        return list(self._all)

    def __repr__(self) -> str:
        # The key ids, never a secret (settings end up in tracebacks), and the same text for the same keys: the
        # tests' app cache keys its apps on the settings' repr (tests/conftest.py), and the default repr, with the
        # object's address, gave every test an app of its own (about 1 s of each web test's setup).
        current = self._current[0] if self._current else None
        return f"{type(self).__name__}(current={current!r}, ids={self.ids()!r})"


class DataKeys(AuditKeys):
    """The keys that encrypt ID numbers and phones at rest (subsidy/core/vault.py), `<id>:<secret>` like the audit
    keys: the current one encrypts, the old ones (SUBSIDY_DATA_OLD_KEYS) still decrypt until `subsidy keys rotate`
    has re-encrypted every row under the current one."""

    CURRENT, OLD, PURPOSE = "SUBSIDY_DATA_KEY", "SUBSIDY_DATA_OLD_KEYS", "ID numbers and phones cannot be stored or read"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold the database's password
    secret_key: str = field(default="", repr=False)  # no secret in a repr (tracebacks, logs)
    demo_mode: bool = False
    # Login sessions and API tokens.
    session_hours: int = 12
    token_hours: int = 24 * 7
    # Failed logins (subsidy/accounts/throttle.py): wrong passwords for one user from one address lock that
    # address out of that user; failures from one address for any user names block the address; wrong passwords
    # for one user from many addresses at once lock the user for everyone. Counted in windows of the same length.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    address_max_failed_logins: int = 20
    address_block_minutes: int = 15
    account_max_failed_logins: int = 50
    failure_window_minutes: int = 15
    # Argon2id parameters; tests lower them (a real hash takes about 140 ms on the 2-core machines).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    # Trust X-Forwarded-Proto from a reverse proxy to decide whether cookies are Secure, and the last hop of
    # X-Forwarded-For as the client's address.
    trust_proxy: bool = False
    audit_keys: AuditKeys = field(default_factory=AuditKeys)
    # How often the server seals the audit log (0: never; `subsidy audit seal` still does).
    audit_seal_seconds: float = 5.0
    data_keys: DataKeys = field(default_factory=DataKeys)
    # The HMAC key of the lookup columns (id_number_hmac, phone_hmac): fixed for the life of the database (see
    # subsidy/core/vault.py for why it does not rotate).
    lookup_key: str = field(default="", repr=False)
    # Largest request body (an upload); RetryWrites (web/deps.py) answers 413 past it, before anything holds it.
    upload_max_bytes: int = 20 * 1024 * 1024
    # An uploaded .xlsx is a zip archive: refused before parsing when its members would unpack to more than this in
    # all, or one of them (past a few KiB) is compressed more than `import_max_ratio` times. openpyxl's own 100,000
    # rows of the template unpack to about 49 MB at a ratio near 18; the 45 KB "bomb" of issue #13 is 900.
    import_max_unpacked_bytes: int = 100 * 1024 * 1024
    import_max_ratio: int = 100
    # Reading an upload's rows (preview or confirmation) stops past this many seconds.
    import_parse_seconds: float = 120.0
    # Uploads (whole ID numbers) left unconfirmed are purged after this many hours; the server purges every
    # `upload_purge_seconds` (0: never; `subsidy uploads purge` still does).
    upload_keep_hours: float = 24.0
    upload_purge_seconds: float = 3600.0
    attachment_max_bytes: int = 5 * 1024 * 1024
    # The anomaly rules (subsidy/oversight/anomalies.py): a clerk issuing more than `anomaly_burst_slips` slips
    # within ten minutes is a burst, more than `anomaly_night_burst_slips` at night (22:00-06:00 China time). The
    # server runs the rules every `anomaly_run_seconds` (0: never; `subsidy anomalies run` still does).
    anomaly_burst_slips: int = 20
    anomaly_night_burst_slips: int = 3
    anomaly_run_seconds: float = 24 * 3600.0
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
    audit_key = os.environ.get("SUBSIDY_AUDIT_KEY", "") or (DEMO_AUDIT_KEY if demo else "")
    data_key = os.environ.get("SUBSIDY_DATA_KEY", "") or (DEMO_DATA_KEY if demo else "")
    lookup_key = os.environ.get("SUBSIDY_LOOKUP_KEY", "") or (DEMO_LOOKUP_KEY if demo else "")
    if lookup_key and len(lookup_key) < 32:
        raise SystemExit("SUBSIDY_LOOKUP_KEY takes a secret of at least 32 characters (for example "
                         "`$(openssl rand -hex 32)`).")
    data_keys = DataKeys(data_key, os.environ.get("SUBSIDY_DATA_OLD_KEYS", ""), forbidden=secret)
    if lookup_key and (lookup_key == secret or any(data_keys.get(k) == lookup_key.encode() for k in data_keys.ids())):
        raise SystemExit("SUBSIDY_LOOKUP_KEY must differ from SECRET_KEY and from the data keys.")
    return Settings(
        data_keys=data_keys,
        lookup_key=lookup_key,
        audit_keys=AuditKeys(audit_key, os.environ.get("SUBSIDY_AUDIT_OLD_KEYS", ""), forbidden=secret),
        audit_seal_seconds=float(os.environ.get("SUBSIDY_AUDIT_SEAL_SECONDS", 5)),
        database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        secret_key=secret,
        demo_mode=demo,
        argon2_time_cost=int(os.environ.get("SUBSIDY_ARGON2_TIME_COST", 3)),
        argon2_memory_kib=int(os.environ.get("SUBSIDY_ARGON2_MEMORY_KIB", 65536)),
        trust_proxy=_bool("SUBSIDY_TRUST_PROXY"),
        upload_max_bytes=int(os.environ.get("SUBSIDY_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)),
        import_max_unpacked_bytes=int(os.environ.get("SUBSIDY_IMPORT_MAX_UNPACKED_BYTES", 100 * 1024 * 1024)),
        import_max_ratio=int(os.environ.get("SUBSIDY_IMPORT_MAX_RATIO", 100)),
        import_parse_seconds=float(os.environ.get("SUBSIDY_IMPORT_PARSE_SECONDS", 120)),
        upload_keep_hours=float(os.environ.get("SUBSIDY_UPLOAD_KEEP_HOURS", 24)),
        upload_purge_seconds=float(os.environ.get("SUBSIDY_UPLOAD_PURGE_SECONDS", 3600)),
        anomaly_burst_slips=int(os.environ.get("SUBSIDY_ANOMALY_BURST_SLIPS", 20)),
        anomaly_night_burst_slips=int(os.environ.get("SUBSIDY_ANOMALY_NIGHT_BURST_SLIPS", 3)),
        anomaly_run_seconds=float(os.environ.get("SUBSIDY_ANOMALY_RUN_SECONDS", 24 * 3600)),
    )
