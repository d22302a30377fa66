"""The ``samvirke`` command as a user meets it: help, one-line configuration errors, migrate."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SAMVIRKE = str(Path(sys.executable).with_name("samvirke"))
Completed = subprocess.CompletedProcess[str]


def run(args: list[str], cwd: Path, *, program: str = SAMVIRKE, **env: str) -> Completed:
    """``program`` (the ``samvirke`` command) with ``args``, in ``cwd``, with no SAMVIRKE_*
    setting but ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    return subprocess.run(
        [program, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [[], ["run"], ["migrate"], ["worker"], ["report"]])
def test_help_on_every_command(tmp_path: Path, command: list[str]) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0
    assert "usage: samvirke" in result.stdout


def test_run_without_token_says_what_to_set(tmp_path: Path) -> None:
    result = run(["run"], tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "samvirke: set SAMVIRKE_TELEGRAM_TOKEN to the bot token from @BotFather "
        "(in the environment or in a .env file)"
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAMVIRKE_HTTP_PORT", "abc"),
        ("SAMVIRKE_SMTP_SECURITY", "ssl"),
        ("SAMVIRKE_DATABASE_URL", "not a url"),
        ("SAMVIRKE_DEFAULT_LANGUAGE", "de"),
        ("SAMVIRKE_ADMINS", "12,abc"),
        ("SAMVIRKE_TIMEZONE", "Europe/Atlantis"),
    ],
)
def test_bad_value_stops_with_one_line_naming_it(tmp_path: Path, variable: str, value: str) -> None:
    result = run(["run"], tmp_path, SAMVIRKE_TELEGRAM_TOKEN="1:secret-token", **{variable: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    assert "secret-token" not in result.stderr


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SAMVIRKE_HTTP_PORT=notaport\n")
    result = run(["migrate"], tmp_path)
    assert "SAMVIRKE_HTTP_PORT" in result.stderr


def test_migrate_creates_the_default_database_under_var(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "var" / "samvirke.db"
    assert database.exists()
    with sqlite3.connect(database) as connection:
        regions = [r[0] for r in connection.execute("SELECT name FROM regions ORDER BY id")]
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert regions[0] == "Region Hovedstaden"
    assert "Region Skåne" in regions
    assert journal == "wal"
    again = run(["migrate"], tmp_path)
    assert again.returncode == 0


def test_run_and_worker_migrate_in_a_child_process(tmp_path: Path) -> None:
    """The commands that run for days migrate first, in a process of its own: what the migration
    imports (Alembic, Mako, Pygments) does not stay in their memory."""
    code = (
        "import sys; from samvirke import cli; cli._migrate_apart(); "
        "print(sorted(m for m in ('alembic', 'mako', 'pygments') if m in sys.modules))"
    )
    result = run(["-c", code], tmp_path, program=sys.executable)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    with sqlite3.connect(tmp_path / "var" / "samvirke.db") as connection:
        assert connection.execute("SELECT count(*) FROM regions").fetchone()[0] > 0


def test_run_stops_with_one_line_when_the_database_cannot_be_migrated(tmp_path: Path) -> None:
    result = run(
        ["run"],
        tmp_path,
        SAMVIRKE_TELEGRAM_TOKEN="1:secret-token",
        SAMVIRKE_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/samvirke",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("samvirke: cannot migrate the database at SAMVIRKE_DATABASE_URL")
    assert "Traceback" not in result.stderr
