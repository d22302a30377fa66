"""The files in ``deploy/``: systemd units that systemd accepts without a warning and that are
hardened, a Caddyfile that Caddy accepts and that passes on only the public routes (checked by
running Caddy in front of a stand-in), a Dockerfile hadolint finds nothing in."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.mailserver import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ["samvirke.service", "samvirke-worker@.service", "samvirke-backup.service"]
HARDENING = [
    "User=samvirke",
    "ProtectSystem=strict",
    "ReadWritePaths=/var/lib/samvirke",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "EnvironmentFile=/etc/samvirke/samvirke.env",
]


def tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)  # hadolint comes with the dev environment
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (CI installs it: see .ci/run)")
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_hardened(unit: str) -> None:
    text = (DEPLOY / unit).read_text()
    for line in HARDENING:
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), f"{unit}: {line}"
    if unit != "samvirke-backup.service":
        assert re.search(r"^Restart=on-failure$", text, re.MULTILINE)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` with ExecStart pointing at this environment's samvirke (it
    checks that the command exists); any warning at all fails."""
    analyze = tool("systemd-analyze")
    samvirke = str(Path(sys.executable).with_name("samvirke"))
    for path in [*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")]:
        text = path.read_text().replace("/opt/samvirke/venv/bin/samvirke", samvirke)
        (tmp_path / path.name).write_text(text)
    files = sorted(str(p) for p in tmp_path.iterdir())
    done = subprocess.run(
        [analyze, "verify", "--man=no", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
    for unit in ("samvirke.service", "samvirke-worker@.service"):
        security = subprocess.run(
            [analyze, "security", "--offline=yes", str(tmp_path / unit)],
            capture_output=True,
            text=True,
            check=False,
        )
        score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
        assert score is not None, security.stdout[-500:]
        assert float(score.group(1)) <= 2.5, security.stdout[-500:]


def test_caddyfile_is_valid() -> None:
    caddy = tool("caddy")
    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Valid configuration" in done.stdout + done.stderr


@pytest.fixture
async def backend() -> AsyncIterator[int]:
    """A stand-in for Samvirke's HTTP server that answers every path with its path."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"backend {request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_caddy_passes_on_only_the_public_routes(tmp_path: Path, backend: int) -> None:
    """The Caddyfile as shipped, with the domain replaced by a loopback HTTP address."""
    caddy = tool("caddy")
    front = free_port()
    text = (DEPLOY / "Caddyfile").read_text()
    text = text.replace("bot.example.org {", f"http://127.0.0.1:{front} {{", 1)
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{backend}")
    config = tmp_path / "Caddyfile"
    config.write_text("{\n\tadmin off\n\tauto_https off\n}\n\n" + text)
    process = await asyncio.create_subprocess_exec(
        caddy, "run", "--config", str(config), "--adapter", "caddyfile",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as client:
            url = f"http://127.0.0.1:{front}"
            async with asyncio.timeout(20):
                while True:
                    try:
                        async with client.get(f"{url}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            passed = [
                "/healthz",
                "/telegram/webhook",
                "/unsubscribe/5.abc",
                "/calendar/all.ics",
                "/events",
                "/events/12",
            ]
            for path in passed:
                async with client.get(url + path) as response:
                    assert response.status == 200, path
                    assert await response.text() == f"backend {path}"
            for path in ["/metrics", "/readyz", "/", "/_stats", "/metricsx", "/eventsx"]:
                async with client.get(url + path) as response:
                    assert response.status == 404, path
    finally:
        process.terminate()
        await process.wait()


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    done = subprocess.run(
        [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "HEALTHCHECK" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)  # not root
    assert "--require-hashes -r" in (DEPLOY / "install.sh").read_text()
