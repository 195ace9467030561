"""Django settings, all read from the environment through django-environ.

Unset ``REDIS_URL`` means embedded mode: SQLite in ``data/``, an in-memory channel layer,
and Celery on a filesystem broker, so nothing but Python is needed. Every variable is listed
in the README's configuration reference and in ``.env.example``.
"""

from __future__ import annotations

import logging
import os
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import environ
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured

from bridgeprotocol.logformat import formatter_config
from sessionbot import envcheck
from sessionbot.botconfig import BotConfig, ConfigError, config_load
from sessionbot.secrets import secret_file_value

BASE_DIR = Path(__file__).resolve().parent.parent

T = TypeVar("T")
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _checked(check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an envcheck validator; its EnvError becomes the one-line ImproperlyConfigured."""
    try:
        return check(*args, **kwargs)
    except envcheck.EnvError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def _bool(name: str, default: bool) -> bool:
    return _checked(envcheck.env_bool, name, env.str(name, default=""), default=default)


def _number(name: str, default: float, minimum: float = 0) -> float:
    return _checked(envcheck.env_number, name, env.str(name, default=""), default=default, minimum=minimum)


DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"DATA_DIR: cannot create {DATA_DIR} ({exc.strerror})") from None
DEBUG = _bool("DEBUG", False)

# Embedded mode (REDIS_URL unset) may generate the key into data/secret_key (0600): one
# machine, one key. Scaled out (REDIS_URL set) with DEBUG off, every machine must be given
# the same key, so it is required; with DEBUG off it must be at least 32 characters.
REDIS_URL = _checked(envcheck.redis_url_check, env.str("REDIS_URL", default=""))
# rediss:// verifies Redis' certificate: against this CA file when set, else the system's CAs.
REDIS_TLS_CA_FILE = _checked(envcheck.redis_tls_ca_check, env.str("REDIS_TLS_CA_FILE", default=""), redis_url=REDIS_URL)
SECRET_KEY = _checked(
    envcheck.secret_key_check, env.str("SECRET_KEY", default=""), debug=DEBUG, scaled_out=bool(REDIS_URL)
)
if not SECRET_KEY:
    SECRET_KEY = secret_file_value(DATA_DIR / "secret_key")

# Encrypts plugin secrets (plugins.secrets). Unset: generated once into data/secrets_key
# (0600), as SECRET_KEY is; scaled out (REDIS_URL set) with DEBUG off, every machine must
# be given the same key, and until it is, plugins that have secrets do not start.
PLUGIN_SECRETS_KEY = _checked(envcheck.plugin_secrets_key_check, env.str("PLUGIN_SECRETS_KEY", default=""), debug=DEBUG)
if not PLUGIN_SECRETS_KEY and (not REDIS_URL or DEBUG):
    PLUGIN_SECRETS_KEY = secret_file_value(DATA_DIR / "secrets_key")

_hosts: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
ALLOWED_HOSTS = _checked(envcheck.allowed_hosts_check, _hosts)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
HOST_IP = _checked(envcheck.host_ip_check, env.str("HOST_IP", default="") or "127.0.0.1")
CLIENT_NAME = _checked(envcheck.client_name_check, env.str("CLIENT_NAME", default="") or "sessionbot")
BRIDGE_TOKEN = _checked(envcheck.bridge_token_check, env.str("BRIDGE_TOKEN", default=""))
if not BRIDGE_TOKEN:
    BRIDGE_TOKEN = secret_file_value(DATA_DIR / "bridge_token")
# Bearer token for /metrics from other machines; unset, only loopback may scrape.
METRICS_TOKEN = _checked(envcheck.metrics_token_check, env.str("METRICS_TOKEN", default=""))
SESSION_MNEMONIC = env.str("SESSION_MNEMONIC", default="")
SESSION_NETWORK_URL = env.str("SESSION_NETWORK_URL", default="")

LOG_LEVEL = _checked(envcheck.log_level_check, env.str("LOG_LEVEL", default="INFO"))
# text (one readable line) or json (one JSON object per line, for a log collector).
LOG_FORMAT = _checked(envcheck.log_format_check, env.str("LOG_FORMAT", default="text"))
# Set by `runbroker --debug`: the broker logs message text (off by default, for privacy).
BROKER_LOG_TEXT = _bool("BROKER_LOG_TEXT", False)

SESSIONBOT_CONFIG = Path(env.str("SESSIONBOT_CONFIG", default=str(BASE_DIR / "data" / "config.yaml")))
if env.str("SESSIONBOT_CONFIG", default="") and not SESSIONBOT_CONFIG.is_file():
    # The default file may be absent (defaults apply); a path the operator gave must exist.
    raise ImproperlyConfigured(f"SESSIONBOT_CONFIG: {SESSIONBOT_CONFIG} does not exist")
# The codes config.yaml may list: those Django knows (its aliases, like zh-cn, named by the
# code to write instead); the bot's own messages exist in LANGUAGES, others fall back to English.
_LANGUAGE_CODES = {code: info.get("fallback", [code])[0] for code, info in LANG_INFO.items()}
try:
    BOT_CONFIG: BotConfig = config_load(path=SESSIONBOT_CONFIG, languages=_LANGUAGE_CODES)
except ConfigError as exc:
    raise ImproperlyConfigured(f"SESSIONBOT_CONFIG {exc}") from None

PLUGIN_ROOTS = [
    Path(p).resolve()
    for p in env.list("PLUGIN_ROOTS", default=[str(BASE_DIR / "plugins" / "builtin"), str(BASE_DIR / "examples")])
]
PLUGIN_DATA_DIR = DATA_DIR / "plugin-data"
# Obsolete (each plugin now runs as a uid of its own); still accepted so old .env files load.
PLUGIN_HOST_USER = _checked(
    envcheck.plugin_host_user_check, env.str("PLUGIN_HOST_USER", default=""), root=os.geteuid() == 0
)
if env.str("PLUGIN_HOST_USER", default=""):
    logging.getLogger(__name__).warning(
        "PLUGIN_HOST_USER is obsolete and ignored: each plugin runs as a uid of its own (PLUGIN_UID_BASE)"
    )
# The plugin sandbox of a root worker (docs/security.md, "Plugin sandbox").
PLUGIN_UID_BASE, PLUGIN_UID_COUNT = _checked(
    envcheck.plugin_uid_range_check,
    env.str("PLUGIN_UID_BASE", default=""),
    env.str("PLUGIN_UID_COUNT", default=""),
)
PLUGIN_MAX_PROCESSES = int(_number("PLUGIN_MAX_PROCESSES", 64, minimum=4))
PLUGIN_BWRAP = env.str("PLUGIN_BWRAP", default="bwrap")
PLUGIN_NFT = env.str("PLUGIN_NFT", default="nft")
PLUGINS_RUN_UNSANDBOXED_AS_ROOT = _bool("PLUGINS_RUN_UNSANDBOXED_AS_ROOT", False)
PLUGINS_NETWORK_WITHOUT_FIREWALL = _bool("PLUGINS_NETWORK_WITHOUT_FIREWALL", False)
# A process that cannot confine plugin code (not root) starts no plugin host: it hands a
# reload to a worker, and refuses the rest (plugins.execution.plugin_sandbox).
PLUGINS_CONFINED_ONLY = _bool("PLUGINS_CONFINED_ONLY", False)
if PLUGINS_RUN_UNSANDBOXED_AS_ROOT and os.geteuid() == 0:
    logging.getLogger(__name__).warning(
        "PLUGINS_RUN_UNSANDBOXED_AS_ROOT is set: where the sandbox cannot be built, plugins run as root"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "bots",
    "plugins",
    "broker",
    "console",
]

MIDDLEWARE = [
    # /livez and /readyz first: probes come from addresses ALLOWED_HOSTS does not list.
    "sessionbot.readiness.probe_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sessionbot.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "sessionbot.asgi.application"

# --- database -------------------------------------------------------------------------
_default_db = f"sqlite:///{DATA_DIR / 'sessionbot.sqlite3'}"
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # django-environ warns about unknown schemes; we report them.
        _db = env.db_url_config(env.str("DATABASE_URL", default="") or _default_db)
except (ImproperlyConfigured, ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL: not a database URL ({exc})") from None
_checked(envcheck.database_check, _db)
# SQLite takes one writer at a time: the broker and the worker size their concurrency by it.
DATABASE_IS_SQLITE = _db["ENGINE"] == "django.db.backends.sqlite3"
if DATABASE_IS_SQLITE:
    _db.setdefault("OPTIONS", {}).update(
        {
            # IMMEDIATE: the ASGI server and the worker write at once; deferred transactions
            # would fail to upgrade their lock instead of waiting for it.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    _db["TEST"] = {"NAME": str(DATA_DIR / "test-sessionbot.sqlite3")}
    _checked(envcheck.sqlite_folder_check, _db["NAME"])
else:
    # Values travel apart from the statement's text (psycopg binds on the client by default,
    # in Django): PostgreSQL logs the text of a statement that fails, and must not log
    # message text, Session IDs or arguments with it.
    _db.setdefault("OPTIONS", {})["server_side_binding"] = True
# Keep connections open between requests: one connection per request made inserts 3x slower
# (on SQLite each new connection also re-runs the PRAGMAs above).
_db["CONN_MAX_AGE"] = int(_number("CONN_MAX_AGE", 600))
# No health check: it cost a `SELECT 1` round trip before every request, task and consumer
# call. A connection that broke meanwhile fails one call, is closed after it, and the hot
# paths (storing a bridge message, running an invocation) retry once on a new one.
_db["CONN_HEALTH_CHECKS"] = False
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, channels, celery, cache -----------------------------------------------------
EMBEDDED = not REDIS_URL

# redis-py's connection options for TLS, for every client of REDIS_URL (docs/redis.md).
REDIS_TLS_OPTIONS: dict[str, str] = {}
if REDIS_URL.startswith("rediss://"):
    REDIS_TLS_OPTIONS = {
        "ssl_cert_reqs": "required",
        **({"ssl_ca_certs": REDIS_TLS_CA_FILE} if REDIS_TLS_CA_FILE else {}),
    }

if REDIS_URL:
    # Pub/sub: a ring is one PUBLISH (the core layer takes several round trips per group send);
    # a ring lost while a consumer reconnects is caught by its poll.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, **REDIS_TLS_OPTIONS}]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": dict(REDIS_TLS_OPTIONS),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_FS_DIR = Path(env.str("CELERY_FS_DIR", default=str(DATA_DIR / "celery")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (CELERY_FS_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_DIR / "queue"),
        "processed_folder": str(CELERY_FS_DIR / "processed"),
        "store_processed": False,
        # Broadcast (pidbox) files; kombu's default is ./control in the current folder.
        "control_folder": str(CELERY_FS_DIR / "control"),
        "polling_interval": _number("CELERY_POLL_INTERVAL", 0.01),
    }
    # Atomic writes: kombu's own filesystem transport lets a worker read half-written files.
    CELERY_BROKER_TRANSPORT = "sessionbot.fsqueue:Transport"
elif CELERY_BROKER_URL.startswith("redis"):
    # No acknowledgement emulation: kombu's costs two more Redis round trips per task (it
    # files every delivered task in a hash, then removes it), only to hand a task lost with
    # its worker out again after its visibility timeout (an hour). The database is the
    # record: the recovery sweep sends such an invocation again within a minute, and the
    # claim runs it once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": False}
    if CELERY_BROKER_URL.startswith("rediss://"):
        # Kombu speaks TLS to a rediss:// URL only with these options (the certificate verified).
        CELERY_BROKER_USE_SSL = {
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
            **({"ssl_ca_certs": REDIS_TLS_CA_FILE} if REDIS_TLS_CA_FILE else {}),
        }
    if CELERY_BROKER_URL.startswith("redis://"):
        # One client object per channel, not one per command (rediss:// keeps kombu's own).
        CELERY_BROKER_TRANSPORT = "sessionbot.redisqueue:Transport"
# Results are kept only for the tasks a caller waits for (a reload handed to a worker).
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_RESULT_BACKEND = f"file://{CELERY_FS_DIR / 'results'}"
    (CELERY_FS_DIR / "results").mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith("rediss://"):
        CELERY_REDIS_BACKEND_USE_SSL = CELERY_BROKER_USE_SSL
else:
    CELERY_RESULT_BACKEND = "rpc://"
CELERY_RESULT_EXPIRES = 3600

# --- i18n ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# The admin's times: in each browser's own time zone once it has said which
# (adminauth.timezones), else in this one.
TIME_ZONE = _checked(envcheck.time_zone_check, env.str("TIME_ZONE", default=""))
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
# With finders on, the admin's files are served without collectstatic; an absent
# STATIC_ROOT is expected, not worth a warning on every start.
warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTP and the admin: login throttling, two-factor, TLS, server limits ----------------
# (One block: sessionbot.httpenv validates these; docs/deployment.md explains them.)
from datetime import timedelta  # noqa: E402

from sessionbot import httpenv  # noqa: E402

# The admin's own site (optional two-factor login) replaces django.contrib.admin's.
INSTALLED_APPS[INSTALLED_APPS.index("django.contrib.admin")] = "adminauth.apps.SiteAdminConfig"
# django-otp's and axes' apps under translated names (adminauth.apps).
INSTALLED_APPS += ["adminauth", "django_otp", "adminauth.apps.TotpConfig", "adminauth.apps.StaticConfig"]
INSTALLED_APPS += ["adminauth.apps.AxesConfig"]
MIDDLEWARE += [
    "django_otp.middleware.OTPMiddleware",
    "axes.middleware.AxesMiddleware",
    "adminauth.timezones.BrowserTimeZoneMiddleware",
]
# Axes first: a locked-out login is refused before any password is hashed (0.25 CPU-s each);
# then passwords are checked one at a time, and axes is asked again in turn (adminauth.backends).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "adminauth.backends.OneAtATimeModelBackend"]

ADMIN_PATH = _checked(httpenv.admin_path_check, env.str("ADMIN_PATH", default="admin/"))
ADMIN_OTP_REQUIRED = _bool("ADMIN_OTP_REQUIRED", False)
OTP_TOTP_ISSUER = CLIENT_NAME

# Failed logins lock the account (from any address) and the address (for any account).
LOGIN_FAILURE_LIMIT = int(_number("LOGIN_FAILURE_LIMIT", 5, minimum=1))
LOGIN_COOLOFF_MINUTES = _number("LOGIN_COOLOFF_MINUTES", 15, minimum=0.01)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "adminauth.lockout.AxesHandler"  # in the database: shared by every process and axes_reset
AXES_RESET_ON_SUCCESS = True
# A lock lasts the cool-off from the attempt that set it; refused attempts write nothing.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "adminauth.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "adminauth.lockout.lockout_response"
AXES_VERBOSE = False

# Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto runbroker believes (uvicorn's
# proxy headers, checked per connection). Empty: the headers are ignored, the peer is the client.
TRUSTED_PROXIES = _checked(httpenv.trusted_proxies_check, env.list("TRUSTED_PROXIES", default=[]))

# HTTPS_ONLY: the site is reached over HTTPS only (TLS ends at the proxy). It turns on the
# redirect, HSTS and Secure cookies together; each can be overridden. The scheme comes
# from a trusted proxy's X-Forwarded-Proto through uvicorn, so SECURE_PROXY_SSL_HEADER
# (which Django would believe from any peer) stays unset.
HTTPS_ONLY = _bool("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
# Probes and scrapes on loopback speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(_number("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS_ONLY else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", HTTPS_ONLY)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", HTTPS_ONLY)
CSRF_TRUSTED_ORIGINS = _checked(httpenv.csrf_trusted_origins_check, CSRF_TRUSTED_ORIGINS)

# The server (runbroker): a connection must finish its request headers within
# HTTP_HEADER_TIMEOUT seconds; at most HTTP_MAX_CONNECTIONS are served at once (503 past it).
HTTP_HEADER_TIMEOUT = _number("HTTP_HEADER_TIMEOUT", 10, minimum=0.1)
HTTP_MAX_CONNECTIONS = int(_number("HTTP_MAX_CONNECTIONS", 500, minimum=1))
# --- end of HTTP and the admin -------------------------------------------------------------

# --- logging ---------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": formatter_config(LOG_FORMAT)},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
        "celery": {"level": "WARNING" if LOG_LEVEL != "DEBUG" else "DEBUG"},
        # The filesystem queue has no host name; kombu says so on every connection.
        "kombu.connection": {"level": "ERROR"},
    },
}
logging.getLogger(__name__).debug("settings loaded; embedded=%s", EMBEDDED)

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
# Redis: one task per thread, so several workers share the load evenly. The filesystem
# queue is polled (every 10 ms): with one task per thread a thread that finished waited
# for the next poll, idle; a few in reserve keep the threads busy (a reserved task lost
# with a killed worker is sent again by the recovery sweep).
CELERY_WORKER_PREFETCH_MULTIPLIER = 4 if CELERY_BROKER_URL.startswith("filesystem://") else 1
# Celery's Django fix-up closes every database connection around every task; the worker
# closes only broken or CONN_MAX_AGE-old ones instead (plugins.celery_hooks), as Django does per request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task stuck past the plugin's own limits (its host enforces those) is stopped: past the
# longest limit a plugin may have (900 s, plugins.manifest.Limits), with room for the
# host's start (30 s) and the finish, so it never stops a slow plugin that is still working.
CELERY_TASK_TIME_LIMIT = 900 + 120
CELERY_TASK_SOFT_TIME_LIMIT = 900 + 90
# A running install job whose worker has not said it is alive for this long is shown as
# failed (its worker stopped); the worker says so every sixth of it (plugins.install).
PLUGIN_INSTALL_STALE_SECONDS = _number("PLUGIN_INSTALL_STALE_SECONDS", 60, minimum=1)
# Plugin environments (plugins.environments): the index their requirements resolve from
# ("" : none, the find-links alone) and folders or URLs of distributions besides it.
PLUGIN_INDEX_URL = env.str("PLUGIN_INDEX_URL", default="https://pypi.org/simple")
PLUGIN_FIND_LINKS = env.list("PLUGIN_FIND_LINKS", default=[])
