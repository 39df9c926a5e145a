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


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_sim_profile_env_file_points_every_venue_at_the_sim_service_in_simulated_mode() -> None:
    values = _env_file(ROOT / "compose.sim.env")
    sim = _compose()["services"]["sim"]
    port = sim["command"][sim["command"].index("--port") + 1]
    web_env = _compose()["services"]["web"]["environment"]
    venues = [name for name in web_env if name.startswith("PERPVOL_") and name.endswith("_URL")]
    assert len(venues) == 4 and all(values[name] == f"http://sim:{port}" for name in venues)
    assert values["PERPVOL_DATA_MODE"] == "simulated"
    assert "--env-file compose.sim.env --profile sim up" in (ROOT / "README.md").read_text()


def test_env_example_holds_only_valid_settings() -> None:
    from core.settings import Settings

    values = _env_file(ROOT / ".env.example")
    assert set(values) == {"APP_SECRET_KEY"}
    commented = [
        line[2:].split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.startswith("# ") and "=" in line.split()[1]
    ]
    known = {info.alias for info in Settings.model_fields.values()} | {"HTTPS_PROXY", "NO_PROXY"}
    assert commented and set(commented) <= known, set(commented) - known
