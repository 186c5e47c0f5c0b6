"""Settings read from MENTORING_* environment variables."""

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MENTORING_")

    environment: str = "development"  # "production" refuses the default secret
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    secret_key: str = DEFAULT_SECRET
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    login_lock_after: int = 5  # failed attempts before an account (or a PIN) is slowed down
    login_lock_max_minutes: int = 15
    login_address_lock_after: int = 20  # failed sign-ins from one client address before it is slowed down
    verify_per_minute: int = 30  # checks on the public verification page per client address
    # Where people outside reach this server: printed on records (with their QR code), in credentials, DIDs and
    # emails. Unset, `mentoring serve` sets it from its --host and --port (see served_base_url).
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str = ""  # smtp://user:pass@host:587?from=… ; empty: no email digests are sent
    # Photos decoded at once per server process. One decode holds at most about 130 MB (a 16 MP PNG with
    # transparency; mentoring/progress/evidence.py), so 2 keep a server under 32 parallel uploads below about 300 MB
    # (bench/uploads.py measured 260 MB) and use both cores of a small server; add 130 MB per extra slot.
    # Uploads that find no free slot within the wait get 503 with Retry-After, and nothing is saved.
    photo_decodes: int = Field(default=2, ge=1, le=64)
    photo_decode_wait_seconds: float = Field(default=20.0, gt=0, le=120)
    # PBKDF2 rounds of a tablet's offline PIN verifier (mentoring/access/offline.py; README, "PIN threat model").
    # Each offline PIN entry costs the tablet this many; tests set it low.
    offline_pin_iterations: int = Field(default=600_000, ge=1000, le=10_000_000)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.environment == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "MENTORING_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return normalize_db_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'mentoring.sqlite3').resolve()}"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def served_base_url(host: str, port: int) -> str:
    """The base URL of a server listening on host:port when MENTORING_BASE_URL is not set.

    A server listening on every interface has no one address to print; 127.0.0.1 at least works on the
    machine itself, and `mentoring serve` warns that phones need MENTORING_BASE_URL (lan_address below)."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def lan_address() -> str | None:
    """This machine's address on its local network, to suggest a MENTORING_BASE_URL; None when offline.

    Connecting a UDP socket only picks the outgoing interface: no packet is sent."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def normalize_db_url(url: str) -> str:
    """Let people write postgresql://… and still get psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
