"""The deployment examples work as written: Kubernetes manifests validated against the Kubernetes
schemas (kubernetes-validate ships them), wired to each other and to real `perpvol` commands; the
compose file's proxy config accepted by nginx where nginx is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
KUBE = ROOT / "deploy" / "kubernetes"
# The oldest and newest Kubernetes the schemas here cover that the manifests should work on.
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    return data


def _resources() -> dict[str, dict[str, Any]]:
    """kind/name -> manifest, for every file the kustomization lists."""
    found: dict[str, dict[str, Any]] = {}
    for name in _kustomization()["resources"]:
        for doc in yaml.safe_load_all((KUBE / name).read_text()):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def _container(resource: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = resource["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_kustomization_lists_every_manifest() -> None:
    files = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(_kustomization()["resources"]) == files


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version: str) -> None:
    for key, doc in _resources().items():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key} is not valid Kubernetes {version}: {exc.message} at {list(exc.path)}")


def test_commands_are_real_perpvol_commands() -> None:
    parser = build_parser()
    for key, doc in _resources().items():
        if doc["kind"] in ("Deployment", "Job"):
            command = _container(doc)["command"]
            assert command[0] == "perpvol", key
            parser.parse_args(command[1:])


def test_web_probes_service_hpa_and_drain_fit_together() -> None:
    resources = _resources()
    web = resources["Deployment/perpvol-web"]
    container = _container(web)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]  # the HPA's utilisation is relative to this
    port = container["ports"][0]
    assert port["containerPort"] == int(container["command"][container["command"].index("--port") + 1])
    drain = int(container["command"][container["command"].index("--drain-seconds") + 1])
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pre_stop + drain

    labels = web["spec"]["template"]["metadata"]["labels"]
    service = resources["Service/perpvol-web"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    hpa = resources["HorizontalPodAutoscaler/perpvol-web"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "perpvol-web"}
    assert resources["PodDisruptionBudget/perpvol-web"]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_every_pod_gets_the_settings_and_storage_urls() -> None:
    resources = _resources()
    config = resources["ConfigMap/perpvol"]["data"]
    secret = resources["Secret/perpvol"]["stringData"]
    assert {"DATABASE_URL", "REDIS_URL", "APP_SECRET_KEY"} <= set(secret)
    assert all(isinstance(value, str) for value in config.values())  # env values must be strings
    for key in ("Deployment/perpvol-web", "Deployment/perpvol-worker", "Job/perpvol-migrate"):
        sources = _container(resources[key])["envFrom"]
        assert {"configMapRef": {"name": "perpvol"}} in sources, key
        assert {"secretRef": {"name": "perpvol"}} in sources, key
        assert _container(resources[key])["image"] == _kustomization()["images"][0]["name"]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_web_and_worker_scale_behind_the_proxy() -> None:
    services = _compose()["services"]
    # A published host port would stop `--scale web=3` (three containers cannot bind it).
    assert "ports" not in services["web"] and "ports" not in services["worker"]
    assert "replicas" not in services["worker"].get("deploy", {})
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:80"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "set $web http://web:8000;" in config and "resolver 127.0.0.11" in config


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed here")
def test_nginx_accepts_the_proxy_config(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "nginx", "-t", "-q", "-c", str(ROOT / "deploy" / "nginx.conf"), "-p", str(tmp_path),
            "-g", f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
