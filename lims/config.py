"""Configuration from the environment, read when an app is created."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Every setting an operator can change: environment variable, default, meaning.
#: The README's configuration table is written from this.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    (
        "LIMS_DATABASE_URL",
        "sqlite:///<instance>/lims.sqlite3",
        "SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host/db",
    ),
    ("LIMS_SECRET_KEY", "generated once into <instance>/secret_key", "key that signs session cookies and CSRF tokens"),
    ("LIMS_INSTANCE_PATH", "./instance", "folder for the SQLite file, the generated key and other local state"),
    ("LIMS_SESSION_IDLE_MINUTES", "15", "idle minutes before a signed-in session ends"),
    ("LIMS_DISPLAY_TIMEZONE", "UTC", "IANA time zone used to show times (stored in UTC)"),
    (
        "LIMS_FACILITY_TIMEZONE",
        "LIMS_DISPLAY_TIMEZONE",
        "IANA time zone of the facility: its local date decides expiry of lots, training and calibration, and due soon",
    ),
    (
        "LIMS_AUDIT_CHECKPOINT_PATH",
        "<instance>/audit-checkpoints.jsonl",
        "file outside the database where `lims audit checkpoint` anchors the audit chain's head",
    ),
    (
        "LIMS_AUDIT_CHECKPOINT_MINUTES",
        "60",
        "how often the compliance scheduler anchors the audit chain's head in the checkpoint file",
    ),
    (
        "LIMS_SCHEDULER",
        "external",
        "embedded: the web process runs the compliance scheduler itself (one per database, by a lease); external: "
        "`lims scheduler run` does",
    ),
    (
        "LIMS_AUDIT_VERIFY_AT",
        "02:00",
        "time of day (display time zone) at which the compliance scheduler verifies the whole audit chain",
    ),
    (
        "LIMS_CALIBRATION_DUE_SOON_DAYS",
        "14",
        "days before a calibration falls due from which equipment shows as due soon",
    ),
    (
        "LIMS_STARTING_MATERIAL_ID_PATTERN",
        "(empty: ISBT 128 DIN)",
        "regular expression a starting material identity must match instead of an ISBT 128 donation identification "
        "number with its check character",
    ),
    (
        "LIMS_PASSWORD_MIN_SCORE",
        "3",
        "least strength (zxcvbn score, 1 to 4) a password chosen by a user must reach",
    ),
    (
        "LIMS_PASSWORD_MAX_AGE_DAYS",
        "unset (no maximum)",
        "days after which a user must change their password at the next sign-in",
    ),
    (
        "LIMS_SIGNING_KEY",
        "<instance>/document-signing.p12",
        "the facility's document-signing key: a PKCS#12 file (.p12/.pfx: key, certificate and chain) or a PEM "
        "private key; a self-signed one is created there when none exists",
    ),
    ("LIMS_SIGNING_CERTIFICATE", "(empty)", "PEM file of the certificate (then its CA chain) of a PEM signing key"),
    ("LIMS_SIGNING_KEY_PASSPHRASE", "(empty)", "passphrase of the signing key file"),
    (
        "LIMS_PUBLIC_URL",
        "http://127.0.0.1:5000",
        "address the LIMS is reached at by readers of its documents: certificates' QR codes and verification links",
    ),
    (
        "LIMS_VERIFY_LIMIT_PER_MINUTE",
        "30",
        "requests a client address may make to the public certificate verification pages in a minute",
    ),
    (
        "LIMS_ACCESS_REVIEW_DAYS",
        "90",
        "days between periodic access reviews: a review falls due this long after the last",
    ),
    (
        "LIMS_AUDIT_TRAIL_REVIEW_DAYS",
        "30",
        "days between QA's periodic audit-trail reviews: a review falls due this long after the last",
    ),
    (
        "LIMS_BACKUP_DIR",
        "<instance>/backups",
        "folder `lims backup` and the scheduler write backups to, and the restore verification reads them from",
    ),
    (
        "LIMS_SECURE_COOKIES",
        "true",
        "send cookies over HTTPS only; `lims serve` turns this off for plain-HTTP development",
    ),
    ("LIMS_SMTP_HOST", "(empty: no e-mail)", "SMTP server that notifications are e-mailed through"),
    ("LIMS_SMTP_PORT", "587", "its port"),
    ("LIMS_SMTP_USER", "(empty: no login)", "user name to log in to the SMTP server with"),
    ("LIMS_SMTP_PASSWORD", "(empty)", "password of that user"),
    ("LIMS_SMTP_FROM", "(required with LIMS_SMTP_HOST)", "sender address of the notification e-mails"),
    ("LIMS_SMTP_STARTTLS", "true", "switch the connection to TLS (STARTTLS) before logging in and sending"),
)

#: where the compliance scheduler runs: in a process of its own (the default), or inside the web process
SCHEDULER_MODES = ("external", "embedded")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigurationError(RuntimeError):
    """The environment holds a value the LIMS cannot run with."""


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def _choice(name: str, override: Any, choices: tuple[str, ...]) -> str:
    raw = str(override or os.environ.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive whole number, not {raw!r}")
    return value


def _optional_positive_int(name: str) -> int | None:
    if os.environ.get(name) is None:
        return None
    return _positive_int(name, 0)


def _score(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw not in {"1", "2", "3", "4"}:
        raise ConfigurationError(f"{name} must be a score from 1 to 4, not {raw!r}")
    return int(raw)


def _time_of_day(name: str, default: str) -> tuple[int, int]:
    raw = os.environ.get(name, default)
    hours, _, minutes = raw.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
        raise ConfigurationError(f"{name} must be a time of day as HH:MM, not {raw!r}")
    return int(hours), int(minutes)


def _time_zone(name: str, override: str | None, default: str) -> str:
    zone_name = override or os.environ.get(name) or default
    try:
        ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"{name} {zone_name!r} is not an IANA time zone") from exc
    return zone_name


def _pattern(name: str) -> str:
    raw = os.environ.get(name, "").strip()
    try:
        re.compile(raw)
    except re.error as exc:
        raise ConfigurationError(f"{name} {raw!r} is not a regular expression: {exc}") from exc
    return raw


def _public_url(name: str, default: str) -> str:
    raw = os.environ.get(name, default).strip().rstrip("/")
    if re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", raw) is None:
        raise ConfigurationError(
            f"{name} must be an http or https address such as https://lims.example.org, not {raw!r}"
        )
    return raw


def _port(name: str, default: int) -> int:
    port = _positive_int(name, default)
    if port > 65535:
        raise ConfigurationError(f"{name} must be a port number from 1 to 65535, not {port}")
    return port


def _smtp_settings() -> dict[str, Any]:
    host = os.environ.get("LIMS_SMTP_HOST", "").strip()
    sender = os.environ.get("LIMS_SMTP_FROM", "").strip()
    if host and re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", sender) is None:
        raise ConfigurationError(
            f"LIMS_SMTP_FROM must be the sender's e-mail address (such as lims@example.org) when LIMS_SMTP_HOST is "
            f"set, not {sender!r}"
        )
    return {
        "SMTP_HOST": host or None,
        "SMTP_PORT": _port("LIMS_SMTP_PORT", 587),
        "SMTP_USER": os.environ.get("LIMS_SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("LIMS_SMTP_PASSWORD") or None,
        "SMTP_FROM": sender or None,
        "SMTP_STARTTLS": _flag("LIMS_SMTP_STARTTLS", True),
    }


def _secret_key(instance_path: Path) -> str:
    from_env = os.environ.get("LIMS_SECRET_KEY")
    if from_env:
        return from_env
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        # Created exclusively with owner-only rights so two workers starting
        # together cannot each write a different key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def instance_path_from_env() -> Path:
    return Path(os.environ.get("LIMS_INSTANCE_PATH", "instance")).resolve()


def load_config(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply ``overrides``."""
    overrides = dict(overrides or {})
    instance_path.mkdir(parents=True, exist_ok=True)
    timezone_name = _time_zone("LIMS_DISPLAY_TIMEZONE", overrides.get("DISPLAY_TIMEZONE"), "UTC")
    facility_timezone_name = _time_zone("LIMS_FACILITY_TIMEZONE", overrides.get("FACILITY_TIMEZONE"), timezone_name)
    secure_cookies = overrides.get("SECURE_COOKIES", _flag("LIMS_SECURE_COOKIES", True))
    config: dict[str, Any] = {
        "DATABASE_URL": os.environ.get("LIMS_DATABASE_URL") or f"sqlite:///{instance_path / 'lims.sqlite3'}",
        "SECRET_KEY": overrides.get("SECRET_KEY") or _secret_key(instance_path),
        "SESSION_IDLE_MINUTES": _positive_int("LIMS_SESSION_IDLE_MINUTES", 15),
        "CALIBRATION_DUE_SOON_DAYS": _positive_int("LIMS_CALIBRATION_DUE_SOON_DAYS", 14),
        "PASSWORD_MIN_SCORE": _score("LIMS_PASSWORD_MIN_SCORE", 3),
        "PASSWORD_MAX_AGE_DAYS": _optional_positive_int("LIMS_PASSWORD_MAX_AGE_DAYS"),
        "AUDIT_CHECKPOINT_PATH": Path(
            overrides.get("AUDIT_CHECKPOINT_PATH")
            or os.environ.get("LIMS_AUDIT_CHECKPOINT_PATH")
            or instance_path / "audit-checkpoints.jsonl"
        ),
        "AUDIT_CHECKPOINT_MINUTES": _positive_int("LIMS_AUDIT_CHECKPOINT_MINUTES", 5),
        "AUDIT_VERIFY_AT": _time_of_day("LIMS_AUDIT_VERIFY_AT", "02:00"),
        "SCHEDULER": _choice("LIMS_SCHEDULER", overrides.get("SCHEDULER"), SCHEDULER_MODES),
        "STARTING_MATERIAL_ID_PATTERN": _pattern("LIMS_STARTING_MATERIAL_ID_PATTERN"),
        "SIGNING_KEY_PATH": Path(os.environ.get("LIMS_SIGNING_KEY") or instance_path / "document-signing.p12"),
        "SIGNING_KEY_CONFIGURED": bool(os.environ.get("LIMS_SIGNING_KEY")),
        "SIGNING_CERTIFICATE_PATH": Path(certificate)
        if (certificate := os.environ.get("LIMS_SIGNING_CERTIFICATE"))
        else None,
        "SIGNING_KEY_PASSPHRASE": os.environ.get("LIMS_SIGNING_KEY_PASSPHRASE") or None,
        "PUBLIC_URL": _public_url("LIMS_PUBLIC_URL", "http://127.0.0.1:5000"),
        "VERIFY_LIMIT_PER_MINUTE": _positive_int("LIMS_VERIFY_LIMIT_PER_MINUTE", 30),
        "ACCESS_REVIEW_DAYS": _positive_int("LIMS_ACCESS_REVIEW_DAYS", 90),
        "AUDIT_TRAIL_REVIEW_DAYS": _positive_int("LIMS_AUDIT_TRAIL_REVIEW_DAYS", 30),
        "BACKUP_DIR": Path(
            overrides.get("BACKUP_DIR") or os.environ.get("LIMS_BACKUP_DIR") or instance_path / "backups"
        ),
        "DISPLAY_TIMEZONE": timezone_name,
        "FACILITY_TIMEZONE": facility_timezone_name,
        "SECURE_COOKIES": secure_cookies,
        "SESSION_COOKIE_NAME": "lims_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        # Checked by our own access hook so it runs after authentication.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        **_smtp_settings(),
    }
    config.update(overrides)
    return config
