"""docker-compose.yml is checked without a Docker engine: `docker compose config` where the plugin
answers, and always by parsing it and checking what the services run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_has_the_services_with_health_checks() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "sim"} <= set(services)
    for name in ("postgres", "redis", "web", "sim"):
        assert services[name]["healthcheck"]["test"], name
    assert services["sim"]["profiles"] == ["sim"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")


def test_compose_commands_are_real_perpvol_commands() -> None:
    parser = build_parser()
    for service in _compose()["services"].values():
        command = service.get("command")
        if command and command[0] == "perpvol":
            parser.parse_args(command[1:])  # raises SystemExit on a bad command line


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed here",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
