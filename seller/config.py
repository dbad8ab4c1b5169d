"""Settings read from the environment, with safe defaults for one seller on one machine."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

from .ratelimit import storage_uri


def normalize_database_url(url: str) -> str:
    """Heroku's `postgres://` (and plain `postgresql://`) spelled for SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url(instance_path: str) -> str:
    """`DATABASE_URL`; without it, an SQLite file in the instance folder."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return normalize_database_url(url) if url else "sqlite:///" + str(Path(instance_path) / "seller.db")


def engine_options(url: str, lock_timeout_ms: int = 5000) -> dict:
    """Drop dead PostgreSQL connections before use; and like SQLite's busy timeout, a writer waits for a
    row lock at most `lock_timeout_ms`, then the request answers 503 "try again" instead of hanging.

    The planner is told what an order desk's database is like: its pages are in memory (a random read costs
    little more than a sequential one, so a few thousand index lookups beat scanning a million rows), and its
    queries are short (no JIT: compiling one took longer than running it, up to 1.5 s for the performance page)."""
    if not url.startswith("postgresql"):
        return {}
    return {"pool_pre_ping": True, "connect_args": {
        "options": f"-c lock_timeout={lock_timeout_ms} -c random_page_cost=1.1 -c jit=off"}}


def secret_key(instance_path: str) -> str:
    """`SECRET_KEY`; on a single host without it, a key made once and kept in the instance folder.

    On a platform (`DYNO` set, or `SELLER_ENV=production`) there is no disk worth keeping it on,
    so starting without the variable is refused."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if os.environ.get("DYNO") or os.environ.get("SELLER_ENV") == "production":
        raise RuntimeError("SECRET_KEY must be set in production (e.g. `heroku config:set SECRET_KEY=...`).")
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict:
    """The app's configuration; each key says what it is for."""
    https = os.environ.get("SELLER_HTTPS", "").lower() in ("1", "true", "yes") or bool(os.environ.get("DYNO"))
    return {
        # Signs sessions and CSRF tokens. Unset: see `secret_key` (the factory asks it last).
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": (url := database_url(instance_path)),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        # Cookies: not readable by scripts, not sent on cross-site posts, HTTPS-only behind TLS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        # A signed-in tablet stays signed in for a working week at most.
        "PERMANENT_SESSION_LIFETIME": timedelta(days=7),
        # CSRF tokens live as long as the session: a tablet left open all day keeps working.
        "WTF_CSRF_TIME_LIMIT": None,
        # Uploads (order reports) up to 32 MB; anything larger is refused with 413.
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        "MAX_FORM_PARTS": 1000,
        # Sign-in attempts per address and per e-mail, and wrong setup codes; counted across all workers and
        # dynos (Redis at REDIS_URL, otherwise the database: seller/ratelimit.py).
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "SETUP_RATE_LIMIT": os.environ.get("SETUP_RATE_LIMIT", "10 per hour"),
        "RATELIMIT_STORAGE_URI": storage_uri(os.environ),
        # Outgoing e-mail to buyers; nothing is sent when SMTP_HOST is empty.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": os.environ.get("SMTP_STARTTLS", "1") not in ("0", "false", "no"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", ""),
        # Buy shipping through EasyPost when a key is given; the demo provider otherwise.
        "EASYPOST_API_KEY": os.environ.get("EASYPOST_API_KEY", ""),
        "EASYPOST_API_BASE": os.environ.get("EASYPOST_API_BASE", ""),
        # Reuse the rendered order list while no write was committed (seller/orders/cache.py).
        "ORDERS_LIST_CACHE": os.environ.get("ORDERS_LIST_CACHE", "1") not in ("0", "false", "no"),
        # Seconds to wait for EasyPost before telling the seller to try again (the platform's router gives up at 30).
        "EASYPOST_TIMEOUT": float(os.environ.get("EASYPOST_TIMEOUT", "20")),
        # A public demo desk: seeded on first start, a Demo banner, its sign-ins on the sign-in page, no e-mail and
        # no real EasyPost or Amazon connection (`flask --app app reset-demo` starts it over).
        "SELLER_DEMO": os.environ.get("SELLER_DEMO", "") not in ("", "0", "false", "no"),
        # Serve without the htmx script: every page then works as plain forms and links.
        "SELLER_HTMX": os.environ.get("SELLER_HTMX", "1") not in ("0", "false", "no"),
    }
