"""deploy/: the compose file and the Helm chart are wired to settings that exist.

No Docker daemon or helm binary is needed (neither is on the test machines): the YAML is
parsed, and every MODISTE_* variable they set must be a Settings field, every .Values path a
template reads must be in values.yaml, and the replica counts must reach the templates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from modiste.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHART = DEPLOY / "helm" / "modiste"
FIELDS = {f"MODISTE_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def _templates() -> str:
    return "\n".join(p.read_text() for p in sorted((CHART / "templates").iterdir()))


def test_compose_runs_every_role_with_real_settings() -> None:
    services = _compose()["services"]
    assert {"api", "lb", "postgres", "qdrant", "minio", "ray-head", "ray-worker"} <= set(services)
    for name, service in services.items():
        env = service.get("environment") or {}
        unknown = {k for k in env if k.startswith("MODISTE_")} - FIELDS
        assert not unknown, f"{name}: {unknown} are no Settings fields"
        image = service["image"]
        assert image.startswith("${MODISTE_IMAGE") or not image.endswith(":latest"), name
    api = services["api"]
    assert api["command"][:2] == ["modiste", "serve"] and "0.0.0.0" in api["command"]
    assert "MODISTE_API_REPLICAS" in str(api["deploy"]["replicas"])
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["modiste", "init"]
    env = api["environment"]
    assert env["MODISTE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["MODISTE_DATABASE_URL"].split("@")[1].startswith("postgres:5432/")
    assert env["MODISTE_VECTOR_INDEX_URL"] == "http://qdrant:6333"
    assert env["MODISTE_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["MODISTE_IMAGE_STORE"].startswith("s3://${MODISTE_BUCKET:-modiste}/")
    assert "mb --ignore-existing store/${MODISTE_BUCKET:-modiste}" in " ".join(
        services["minio-init"]["command"]
    )
    assert env["FORWARDED_ALLOW_IPS"] == "*"  # rate limits see the client, not nginx
    # Ray: workers join the head, the ingest job reaches its client port
    head = " ".join(services["ray-head"]["command"])
    assert "--head" in head and "--ray-client-server-port=10001" in head
    assert "--address=ray-head:6379" in services["ray-worker"]["command"]
    assert env["MODISTE_RAY_ADDRESS"] == "ray://ray-head:10001"
    assert services["ingest"]["command"] == ["modiste", "ingest", "--engine", "ray"]
    assert "MODISTE_RAY_WORKERS" in str(services["ray-worker"]["deploy"]["replicas"])
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "http://api:8000" in nginx and "X-Forwarded-For" in nginx
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["lb"]["volumes"]


def _values_paths(node: Any, prefix: str = "") -> set[str]:
    out = {prefix} if prefix else set()
    if isinstance(node, dict):
        for key, value in node.items():
            out |= _values_paths(value, f"{prefix}.{key}" if prefix else key)
    return out


def test_helm_chart_values_reach_the_templates() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "modiste"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["api"]["replicas"] >= 2 and values["ray"]["workers"] >= 1
    qdrant = values["qdrant"]
    assert 2 <= qdrant["replicationFactor"] <= qdrant["replicas"] and qdrant["shards"] >= 1
    text = _templates()
    assert text.count("{{") == text.count("}}")
    read = set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text))
    missing = {p for p in read if p not in _values_paths(values)}
    assert not missing, f"templates read values that values.yaml lacks: {missing}"
    for wired in ("api.replicas", "qdrant.replicas", "qdrant.shards", "qdrant.replicationFactor",
                  "ray.workers"):  # fmt: skip
        assert wired in read, wired
    names = set(re.findall(r"name: (MODISTE_[A-Z0-9_]+)", text))
    assert {"MODISTE_DATABASE_URL", "MODISTE_IMAGE_STORE", "MODISTE_VECTOR_INDEX_URL",
            "MODISTE_QDRANT_SHARDS", "MODISTE_QDRANT_REPLICATION_FACTOR"} <= names  # fmt: skip
    assert names <= FIELDS, names - FIELDS
    assert 'fail "qdrant.replicationFactor can' in text  # more copies than nodes is refused


def test_compose_and_chart_set_the_same_backends() -> None:
    compose_env = {
        k for k in _compose()["services"]["api"]["environment"] if k.startswith("MODISTE_")
    }
    chart_env = set(re.findall(r"name: (MODISTE_[A-Z0-9_]+)", _templates()))
    assert {"MODISTE_DATABASE_URL", "MODISTE_IMAGE_STORE", "MODISTE_VECTOR_INDEX_URL",
            "MODISTE_RAY_ADDRESS", "MODISTE_QDRANT_API_KEY"} <= compose_env & chart_env  # fmt: skip
