"""Configuration from the environment."""

from __future__ import annotations

import stat

import pytest

from lims.config import ConfigurationError, load_config


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LIMS_SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 48
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("LIMS_DATABASE_URL", "postgresql+psycopg://lims@db/lims")
    monkeypatch.setenv("LIMS_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("LIMS_DISPLAY_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("LIMS_SECURE_COOKIES", "false")
    monkeypatch.setenv("LIMS_STARTING_MATERIAL_ID_PATTERN", r"APH-\d{6}")
    config = load_config(tmp_path)
    assert config["STARTING_MATERIAL_ID_PATTERN"] == r"APH-\d{6}"
    assert config["SECRET_KEY"] == "from-the-environment"
    assert config["DATABASE_URL"] == "postgresql+psycopg://lims@db/lims"
    assert config["SESSION_IDLE_MINUTES"] == 5
    assert config["DISPLAY_TIMEZONE"] == "Europe/Berlin"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LIMS_DATABASE_URL", raising=False)
    assert load_config(tmp_path)["DATABASE_URL"] == f"sqlite:///{tmp_path / 'lims.sqlite3'}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LIMS_DISPLAY_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("LIMS_FACILITY_TIMEZONE", "Mars/Olympus", "LIMS_FACILITY_TIMEZONE 'Mars/Olympus' is not an IANA time zone"),
        ("LIMS_STARTING_MATERIAL_ID_PATTERN", "APH-(\\d{6}", "is not a regular expression"),
        ("LIMS_SESSION_IDLE_MINUTES", "0", "positive whole number"),
        ("LIMS_SESSION_IDLE_MINUTES", "ten", "positive whole number"),
        ("LIMS_SECURE_COOKIES", "maybe", "true or false"),
        ("LIMS_SMTP_PORT", "70000", "port number from 1 to 65535"),
        ("LIMS_SMTP_STARTTLS", "sometimes", "true or false"),
    ],
)
def test_bad_settings_stop_the_start_with_a_clear_message(tmp_path, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        load_config(tmp_path)


def test_password_policy_settings(tmp_path, monkeypatch):
    config = load_config(tmp_path)
    assert (config["PASSWORD_MIN_SCORE"], config["PASSWORD_MAX_AGE_DAYS"]) == (3, None)
    monkeypatch.setenv("LIMS_PASSWORD_MIN_SCORE", "4")
    monkeypatch.setenv("LIMS_PASSWORD_MAX_AGE_DAYS", "90")
    config = load_config(tmp_path)
    assert (config["PASSWORD_MIN_SCORE"], config["PASSWORD_MAX_AGE_DAYS"]) == (4, 90)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LIMS_PASSWORD_MIN_SCORE", "0", "LIMS_PASSWORD_MIN_SCORE must be a score from 1 to 4"),
        ("LIMS_PASSWORD_MIN_SCORE", "strong", "LIMS_PASSWORD_MIN_SCORE must be a score from 1 to 4"),
        ("LIMS_PASSWORD_MAX_AGE_DAYS", "-5", "LIMS_PASSWORD_MAX_AGE_DAYS must be a positive whole number"),
    ],
)
def test_bad_password_policy_settings_stop_the_start(tmp_path, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        load_config(tmp_path)


def test_smtp_settings_name_a_server_and_a_sender(tmp_path, monkeypatch):
    assert load_config(tmp_path)["SMTP_HOST"] is None
    monkeypatch.setenv("LIMS_SMTP_HOST", "smtp.example.org")
    with pytest.raises(ConfigurationError, match="LIMS_SMTP_FROM must be the sender's e-mail address"):
        load_config(tmp_path)
    monkeypatch.setenv("LIMS_SMTP_FROM", "lims@example.org")
    monkeypatch.setenv("LIMS_SMTP_USER", "lims")
    config = load_config(tmp_path)
    assert (config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_USER"], config["SMTP_STARTTLS"]) == (
        "smtp.example.org",
        587,
        "lims",
        True,
    )
