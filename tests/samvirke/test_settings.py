"""Configuration from SAMVIRKE_* variables and .env: defaults, parsing, one clear line per bad
value, and secrets that never show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from samvirke.settings import DEFAULT_DATABASE_URL, ConfigurationError, Settings, load_settings

TOKEN = "123456:AAH-very-secret-token"
SMTP_PASSWORD = "hunter2-smtp-secret"
DB_PASSWORD = "db-secret-pw"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SAMVIRKE_* variable from outside, and a current folder without a .env file."""
    for name in list(os.environ):
        if name.startswith("SAMVIRKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_of(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(f"SAMVIRKE_{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message  # one line for the user
    return message


def test_defaults() -> None:
    settings = load_settings()
    assert settings.telegram_token is None
    assert settings.api_base == "https://api.telegram.org"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.smtp_host is None
    assert settings.smtp_security == "starttls"
    assert settings.effective_smtp_port == 587
    assert settings.mail_from == "samvirke@localhost"
    assert settings.mail_dir == Path("var/mail")
    assert settings.admins == frozenset()
    assert settings.timezone == "Europe/Copenhagen"
    assert settings.tz.key == "Europe/Copenhagen"
    assert settings.default_language == "da"
    assert settings.public_url is None
    assert settings.http_port == 8080


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
        "DATABASE_URL": "postgresql+asyncpg://samvirke@db/samvirke",
        "SMTP_HOST": "smtp.example.dk",
        "SMTP_SECURITY": "tls",
        "SMTP_USERNAME": "samvirke",
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "MAIL_FROM": "netvaerk@example.dk",
        "MAIL_DIR": "/srv/mail",
        "ADMINS": "1, 2",
        "TIMEZONE": "Europe/Stockholm",
        "DEFAULT_LANGUAGE": "sv",
        "PUBLIC_URL": "https://samvirke.example.dk",
        "HTTP_PORT": "9000",
    }.items():
        monkeypatch.setenv(f"SAMVIRKE_{name}", value)
    settings = load_settings()
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    assert settings.api_base == "http://127.0.0.1:8081"
    assert settings.database_url == "postgresql+asyncpg://samvirke@db/samvirke"
    assert settings.smtp_host == "smtp.example.dk"
    assert settings.effective_smtp_port == 465
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == SMTP_PASSWORD
    assert settings.mail_dir == Path("/srv/mail")
    assert settings.admins == frozenset({1, 2})
    assert settings.tz.key == "Europe/Stockholm"
    assert settings.default_language == "sv"
    assert str(settings.public_url) == "https://samvirke.example.dk/"
    assert settings.http_port == 9000


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1, 2", {1, 2}), ("1,2,", {1, 2}), (" 7 ", {7}), ("", set()), ("-100", {-100})],
)
def test_admins(monkeypatch: pytest.MonkeyPatch, value: str, expected: set[int]) -> None:
    monkeypatch.setenv("SAMVIRKE_ADMINS", value)
    assert load_settings().admins == frozenset(expected)


def test_empty_optional_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMVIRKE_SMTP_HOST", "")
    monkeypatch.setenv("SAMVIRKE_PUBLIC_URL", "")
    settings = load_settings()
    assert settings.smtp_host is None
    assert settings.public_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HTTP_PORT", "abc"),
        ("HTTP_PORT", "0"),
        ("HTTP_PORT", "70000"),
        ("SMTP_PORT", "smtp"),
        ("SMTP_SECURITY", "ssl"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "postgresql://samvirke@db/samvirke"),
        ("DATABASE_URL", "not a url"),
        ("ADMINS", "1, two"),
        ("TIMEZONE", "Europe/Atlantis"),
        ("DEFAULT_LANGUAGE", "de"),
        ("TELEGRAM_API_URL", "telegram"),
        ("PUBLIC_URL", "samvirke.example.dk"),
    ],
)
def test_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    message = error_of(monkeypatch, **{variable: value})
    assert message.startswith(f"SAMVIRKE_{variable}: ")
    assert message.count("SAMVIRKE_") == 1


def test_every_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_of(monkeypatch, HTTP_PORT="abc", SMTP_SECURITY="ssl")
    assert "SAMVIRKE_HTTP_PORT" in message
    assert "SAMVIRKE_SMTP_SECURITY" in message


def test_the_database_driver_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_of(monkeypatch, DATABASE_URL="mysql://x")
    assert "mysql" in message
    assert "postgresql+asyncpg" in message


def test_dotenv_file_in_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text(
        "SAMVIRKE_HTTP_PORT=9090\n"
        "SAMVIRKE_ADMINS=5,6\n"
        f"SAMVIRKE_TELEGRAM_TOKEN={TOKEN}\n"
        "SAMVIRKE_DEFAULT_LANGUAGE=en\n"
        "OTHER_VARIABLE=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.http_port == 9090
    assert settings.admins == frozenset({5, 6})
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    assert settings.default_language == "en"
    # The environment wins over the file.
    monkeypatch.setenv("SAMVIRKE_HTTP_PORT", "9191")
    assert load_settings().http_port == 9191


def test_bad_value_in_dotenv_file_is_named(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text("SAMVIRKE_HTTP_PORT=eighty\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="SAMVIRKE_HTTP_PORT"):
        load_settings()


def test_overrides() -> None:
    assert load_settings(http_port=1234).http_port == 1234


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMVIRKE_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("SAMVIRKE_SMTP_PASSWORD", SMTP_PASSWORD)
    settings = load_settings()
    for text in (repr(settings), str(settings), repr(settings.model_dump())):
        assert TOKEN not in text
        assert SMTP_PASSWORD not in text
    # Nor in the error about another variable.
    message = error_of(monkeypatch, HTTP_PORT="abc")
    assert TOKEN not in message
    assert SMTP_PASSWORD not in message


def test_secrets_never_show_in_errors_about_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # A token that is not valid for the URL of the Bot API: the message must not echo it.
    message = error_of(monkeypatch, TELEGRAM_API_URL=f"https://user:{TOKEN}@/")
    assert TOKEN not in message
    message = error_of(
        monkeypatch, DATABASE_URL=f"mysql://samvirke:{DB_PASSWORD}@db/samvirke", HTTP_PORT="x"
    )
    assert DB_PASSWORD not in message


def test_database_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SAMVIRKE_DATABASE_URL", f"postgresql+asyncpg://samvirke:{DB_PASSWORD}@db/samvirke"
    )
    settings = load_settings()
    assert DB_PASSWORD in settings.database_url
    assert DB_PASSWORD not in repr(settings)
    assert DB_PASSWORD not in str(settings)


def test_settings_class_reads_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMVIRKE_HTTP_PORT", "8181")
    assert Settings().http_port == 8181


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("samvirke@network.example", "samvirke@network.example"),
        ("Samvirke <samvirke@example.org>", "samvirke@example.org"),
        ("Netværk Midt <netvaerk@example.dk>", "netvaerk@example.dk"),
        ('"Samvirke, Skåne" <skane@example.se>', "skane@example.se"),
    ],
)
def test_mail_from_with_or_without_a_display_name(
    monkeypatch: pytest.MonkeyPatch, value: str, address: str
) -> None:
    monkeypatch.setenv("SAMVIRKE_MAIL_FROM", value)
    settings = load_settings()
    assert settings.mail_from == value
    assert settings.mail_from_address == address


@pytest.mark.parametrize(
    "value",
    [
        "samvirke",
        "Samvirke <samvirke>",
        "a@b.dk <c@d.dk> x",
        "Sam <søren@example.dk>",
        "<>",
        "x\r\n@y",
    ],
)
def test_mail_from_that_is_not_an_address_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    assert error_of(monkeypatch, MAIL_FROM=value).startswith("SAMVIRKE_MAIL_FROM: ")


@pytest.mark.parametrize(
    ("mode", "public_url", "webhook"),
    [
        ("auto", "", False),
        ("auto", "https://bot.example.org", True),
        ("auto", "http://bot.example.org", False),
        ("polling", "https://bot.example.org", False),
        ("webhook", "https://bot.example.org", True),
    ],
)
def test_telegram_mode(
    monkeypatch: pytest.MonkeyPatch, mode: str, public_url: str, webhook: bool
) -> None:
    monkeypatch.setenv("SAMVIRKE_TELEGRAM_MODE", mode)
    monkeypatch.setenv("SAMVIRKE_PUBLIC_URL", public_url)
    assert load_settings().webhook_mode is webhook


def test_webhook_mode_needs_an_https_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_of(monkeypatch, TELEGRAM_MODE="webhook", PUBLIC_URL="http://bot.example.org")
    assert "SAMVIRKE_TELEGRAM_MODE" in message
    assert "SAMVIRKE_PUBLIC_URL" in message
    assert error_of(monkeypatch, TELEGRAM_MODE="sometimes").startswith("SAMVIRKE_TELEGRAM_MODE: ")


def test_http_server_listens_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().http_host == "127.0.0.1"
    monkeypatch.setenv("SAMVIRKE_HTTP_HOST", "::")
    assert load_settings().http_host == "::"
