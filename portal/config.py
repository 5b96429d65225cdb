"""The only module that reads the environment.

Every setting has a default that makes the embedded single-process mode work
(SQLite under instance/, Huey on SQLite); production overrides them with env vars.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Settings read once when the app is built; tests pass overrides to create_app()."""

    def __init__(self) -> None:
        env = os.environ
        self.INSTANCE_PATH = instance = Path(env.get("JSR_INSTANCE_PATH", ROOT / "instance"))
        self.SECRET_KEY = env.get("SECRET_KEY") or _instance_secret(instance, "secret_key")
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL", f"sqlite:///{instance / 'jsr.sqlite3'}")
        self.HUEY_URL = env.get("HUEY_URL", f"sqlite:///{instance / 'huey.sqlite3'}")
        self.JSR_SECRETS_KEY = env.get("JSR_SECRETS_KEY") or _instance_secret(instance, "secrets_key")
        # PostgreSQL role the app switches to so that row-level security applies.
        self.JSR_DB_APP_ROLE = env.get("JSR_DB_APP_ROLE", "jsr_app")
        self.JSR_TIMEOUT_MS = _int("JSR_TIMEOUT_MS", 30_000)
        self.JSR_MEMORY_MB = _int("JSR_MEMORY_MB", 64)
        self.JSR_HOST_CALLS = _int("JSR_HOST_CALLS", 100)
        self.JSR_OUTPUT_BYTES = _int("JSR_OUTPUT_BYTES", 1024 * 1024)
        self.JSR_SOURCE_BYTES = _int("JSR_SOURCE_BYTES", 100 * 1024)
        self.JSR_RUNNERS = _int("JSR_RUNNERS", os.cpu_count() or 2)
        self.JSR_RUNNER_MEMORY_MB = _int("JSR_RUNNER_MEMORY_MB", 1024)
        self.JSR_RUNNER_MAX_RUNS = _int("JSR_RUNNER_MAX_RUNS", 10_000)
        self.JSR_RUNNER_NICE = _int("JSR_RUNNER_NICE", 5)
        # Outbound HTTP of scripts (runtime/ssrf.py): host:port pairs allowed past the private-address block.
        self.JSR_HTTP_ALLOW = env.get("JSR_HTTP_ALLOW", "")
        self.JSR_HTTP_MAX_BYTES = _int("JSR_HTTP_MAX_BYTES", 5 * 1024 * 1024)
        self.JSR_HTTP_TIMEOUT_MS = _int("JSR_HTTP_TIMEOUT_MS", 10_000)
        self.JSR_HTTP_RATE = env.get("JSR_HTTP_RATE", "60 per minute")  # outbound HTTP calls per tenant
        self.GEOLOCATION_URL = env.get("GEOLOCATION_URL")  # geolocation(ip) service, as RudderStack names it
        self.JSR_TENANT_CONCURRENT = _int("JSR_TENANT_CONCURRENT", 5)
        self.JSR_SCRIPT_CONCURRENT = _int("JSR_SCRIPT_CONCURRENT", 5)
        self.JSR_WORKERS = _int("JSR_WORKERS", os.cpu_count() or 2)
        self.JSR_WORKER_TYPE = env.get("JSR_WORKER_TYPE", "process")  # or "thread"
        # 0: this worker only drains the queue; the periodic tasks (scheduler pass, reaper) run on the others.
        self.JSR_WORKER_PERIODIC = _int("JSR_WORKER_PERIODIC", 1) != 0
        self.JSR_WORKER_BATCH = _int("JSR_WORKER_BATCH", 20)  # due runs a worker claims and records together
        self.JSR_RETENTION_DAYS = _int("JSR_RETENTION_DAYS", 30)
        # The platform's maxima: the highest limits an org admin may give its tenant (portal/services/tenants.py).
        self.JSR_MAX_TIMEOUT_MS = _int("JSR_MAX_TIMEOUT_MS", 300_000)
        self.JSR_MAX_MEMORY_MB = _int("JSR_MAX_MEMORY_MB", 512)
        self.JSR_MAX_HOST_CALLS = _int("JSR_MAX_HOST_CALLS", 10_000)
        self.JSR_MAX_CONCURRENCY = _int("JSR_MAX_CONCURRENCY", 50)
        self.JSR_MAX_HTTP_PER_MINUTE = _int("JSR_MAX_HTTP_PER_MINUTE", 6_000)
        self.JSR_MAX_RETENTION_DAYS = _int("JSR_MAX_RETENTION_DAYS", 3_650)
        self.JSR_SIGNIN_LINK_HOURS = _int("JSR_SIGNIN_LINK_HOURS", 72)  # lifetime of an invitation's one-time link
        self.JSR_LOGIN_ATTEMPTS = _int("JSR_LOGIN_ATTEMPTS", 5)
        self.JSR_SESSION_HOURS = _int("JSR_SESSION_HOURS", 12)
        self.JSR_PROXY_HOPS = _int("JSR_PROXY_HOPS", 0)  # reverse proxies in front (ProxyFix); 0: none
        self.REDIS_URL = env.get("REDIS_URL")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.JSR_LOGIN_RATE = env.get("JSR_LOGIN_RATE", "10 per minute")  # sign-in attempts per client address
        self.JSR_RUN_RATE = env.get("JSR_RUN_RATE", "120 per minute")  # run/enqueue requests per token or user
        self.JSR_TENANT_PENDING = _int("JSR_TENANT_PENDING", 100)  # queued runs per tenant
        self.JSR_SCHEDULE_BATCH = _int("JSR_SCHEDULE_BATCH", 1000)  # due scripts one scheduler pass claims
        # How long past a scheduled run's time limit its overlap lock holds when its worker died.
        self.JSR_SCHEDULE_LOCK_GRACE_S = _int("JSR_SCHEDULE_LOCK_GRACE_S", 300)
        self.JSR_HOOK_BODY_BYTES = _int("JSR_HOOK_BODY_BYTES", 1024 * 1024)  # largest webhook body; 413 above
        self.JSR_HOOK_RATE = env.get("JSR_HOOK_RATE", "600 per minute")  # requests per webhook script
        self.JSR_HOOK_CACHE_S = _int("JSR_HOOK_CACHE_S", 5)  # other processes see a route change within this
        # Verified API tokens are kept per process this long: other processes' revocations apply within it.
        self.JSR_TOKEN_CACHE_S = float(env.get("JSR_TOKEN_CACHE_S", 5))
        self.JSR_EVENT_RETRIES = _int("JSR_EVENT_RETRIES", 3)  # retries of a failed event delivery
        self.JSR_RETRY_DELAY_S = float(env.get("JSR_RETRY_DELAY_S", 2))  # first retry's delay; doubles each time
        self.JSR_EVENT_MAX_DEPTH = _int("JSR_EVENT_MAX_DEPTH", 5)  # events leading to events, at most this deep
        self.JSR_METRICS_TOKEN = env.get("JSR_METRICS_TOKEN", "")  # when set, /metrics wants it as a bearer token
        self.JSR_MAX_BODY_BYTES = _int("JSR_MAX_BODY_BYTES", 2 * 1024 * 1024)
        # Cookies: `Secure` is added per request over HTTPS (portal/web/security.py).
        self.SESSION_COOKIE_HTTPONLY = self.REMEMBER_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.BABEL_DEFAULT_LOCALE = "en"
        self.LANGUAGES = ["en", "ru", "uz"]
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}


def _instance_secret(instance: Path, name: str) -> str:
    """A random key kept in instance/ so that restarts keep sessions and secrets readable."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
