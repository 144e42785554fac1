"""The one settings module. Every value comes from the environment (django-environ).

Defaults make `make run` work on a bare machine: SQLite under var/, in-memory channel
layer, a development secret generated once into var/. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and DEBUG=0; see docs/settings.md.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _dev_secret_key() -> str:
    """A secret generated once into var/ so sessions survive restarts in development."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Demo logins (manage.py demo) work only while this is on; it follows DEBUG.
DEMO_LOGINS_ENABLED = env.bool("DEMO_LOGINS_ENABLED", default=DEBUG)
# Tests that need PostgreSQL/Redis skip when absent, and fail when this is set (CI).
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "guardian",
    "axes",
    "csp",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_tasks",
    "django_tasks_db",
    "common",
    "org",
    "audit",
    "workflow",
    "approvals",
    "records",
    "attendance",
    "meetings",
    "inventory",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
                "common.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the task worker and the server share the file; the timeout rides out
    # short write locks instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# With Redis, the pub/sub layer by default: a group message is published once and each
# worker process fans it out to its own sockets, where the classic layer pushes one copy
# per channel through Redis. bench/meeting_fanout.py measures both (docs/settings.md).
REDIS_CHANNEL_LAYER = env.str("REDIS_CHANNEL_LAYER", default="pubsub")
CHANNEL_LAYER_BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
if REDIS_CHANNEL_LAYER not in CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"REDIS_CHANNEL_LAYER must be one of {sorted(CHANNEL_LAYER_BACKENDS)}, "
        f"not {REDIS_CHANNEL_LAYER!r}"
    )
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKENDS[REDIS_CHANNEL_LAYER],
            # Keeps apart several sites (or test runs) sharing one Redis.
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

AUTH_USER_MODEL = "org.Staff"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "org.auth.StaffBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock a username+address pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("AXES_IP_HEADERS", default=["REMOTE_ADDR"])

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"

# Content-Security-Policy (django-csp 4): nothing from outside, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Off by default and its check silenced: the preload directive lets anyone submit the
    # city's whole domain to browsers' public list, which an intranet host must not do.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "org.auth.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cityhall Suite API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes an intranet API: only signed-in users (or tokens) may read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# The approval engine: days a step may stay pending before 督促 (0 = no default due date).
WORKFLOW_DEFAULT_DUE_DAYS = env.int("WORKFLOW_DEFAULT_DUE_DAYS", default=3)
# How often the task worker sweeps for overdue steps (督促).
WORKFLOW_REMINDER_INTERVAL_MINUTES = env.int("WORKFLOW_REMINDER_INTERVAL_MINUTES", default=15)

# Records: the official PDFs and their PAdES signatures (docs/signing.md).
PKI_DIR = Path(env.str("PKI_DIR", default=str(VAR_DIR / "pki")))
SIGNING = {
    # PAdES level of new signatures: B-B, B-T, B-LT or B-LTA (the default, for 30 years).
    "LEVEL": env.str("SIGNING_LEVEL", default="B-LTA"),
    # The organisation's key: a PKCS#12 file and its passphrase …
    "PKCS12_PATH": env.str("SIGNING_PKCS12_PATH", default=str(PKI_DIR / "signer.p12")),
    "PKCS12_PASSPHRASE": env.str("SIGNING_PKCS12_PASSPHRASE", default=""),
    # … or a PKCS#11 token (used when SIGNING_PKCS11_MODULE is set).
    "PKCS11_MODULE": env.str("SIGNING_PKCS11_MODULE", default=""),
    "PKCS11_TOKEN_LABEL": env.str("SIGNING_PKCS11_TOKEN_LABEL", default=""),
    "PKCS11_KEY_LABEL": env.str("SIGNING_PKCS11_KEY_LABEL", default=""),
    "PKCS11_PIN": env.str("SIGNING_PKCS11_PIN", default=""),
    # RFC 3161 time-stamping authority; empty = the in-process TSA of the demo PKI.
    "TSA_URL": env.str("SIGNING_TSA_URL", default=""),
    # PEM files of the roots signatures are validated against (the demo root if empty).
    "TRUST_ROOTS": env.list("SIGNING_TRUST_ROOTS", default=[]),
    # Days before the newest timestamp's certificate expires when renewal adds a new one.
    "RENEWAL_HORIZON_DAYS": env.int("SIGNING_RENEWAL_HORIZON_DAYS", default=365),
}
# A Japanese TrueType/OpenType font embedded in official PDFs (IPAex Mincho from Debian's
# fonts-ipaexfont by default). Without one, records fall back to a built-in CID font and
# are marked not archival-grade.
RECORDS_FONT_PATH = env.str(
    "RECORDS_FONT_PATH", default="/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
)
# A record still unsigned after this many hours is flagged to records officers.
RECORDS_FLAG_AFTER_HOURS = env.int("RECORDS_FLAG_AFTER_HOURS", default=24)

# Meetings (docs/meetings.md): upload limits, page images, watermarks, the live session.
MEETINGS_MAX_UPLOAD_BYTES = env.int("MEETINGS_MAX_UPLOAD_MB", default=100) * 1024 * 1024
MEETINGS_MAX_PAGES = env.int("MEETINGS_MAX_PAGES", default=500)
# Limits of the throw-away process that opens an uploaded PDF before it is accepted.
MEETINGS_CHECK_CPU_SECONDS = env.int("MEETINGS_CHECK_CPU_SECONDS", default=20)
MEETINGS_CHECK_MEMORY_MB = env.int("MEETINGS_CHECK_MEMORY_MB", default=1024)
# Page images: width in pixels at 1×, the 2× one is for zoom; JPEG quality.
MEETINGS_PAGE_WIDTH = env.int("MEETINGS_PAGE_WIDTH", default=1024)
MEETINGS_JPEG_QUALITY = env.int("MEETINGS_JPEG_QUALITY", default=82)
# The CJK font burned into confidential pages (IPAex Gothic from fonts-ipaexfont).
MEETINGS_WATERMARK_FONT_PATH = env.str(
    "MEETINGS_WATERMARK_FONT_PATH",
    default="/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
)
# Days after a confidential meeting closes until its per-viewer images are deleted and
# participants lose access.
MEETINGS_CONFIDENTIAL_RETENTION_DAYS = env.int("MEETINGS_CONFIDENTIAL_RETENTION_DAYS", default=7)
# Messages a socket may send per 10 seconds before it gets an error frame.
MEETINGS_WS_RATE_PER_10S = env.int("MEETINGS_WS_RATE_PER_10S", default=40)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        # pyHanko logs every OCSP/CRL fetch and each failed check with a traceback.
        "pyhanko": {"level": "WARNING"},
        "pyhanko_certvalidator": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
