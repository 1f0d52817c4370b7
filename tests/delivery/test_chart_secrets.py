"""Secrets in the chart: the dev profile generates its own and keeps them across upgrades; outside
development, no secret this repository publishes gets through (values, or an existing Secret).

Offline rendering shows the template logic; `lookup` only reads a cluster during a real install or
upgrade, so two tests run `helm install` and `helm upgrade` for real against a Kubernetes API
stand-in (tests/delivery/helm_cluster.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import HelmError, HelmRenderError

from tests.delivery.chart_render import (
    CHART_DIR,
    NAMESPACE,
    RELEASE,
    REPO_ROOT,
    REQUIRED_VALUES,
    Rendered,
    merged,
    render,
    render_templates,
)
from tests.delivery.helm_cluster import helm_cluster
from tests.delivery.published_secrets import published_secrets

PUBLISHED = published_secrets(REPO_ROOT)
SECRET_FIELDS = {
    "secrets.apiSecretKey": lambda secret: {"apiSecretKey": secret},
    "secrets.meilisearchKey": lambda secret: {"meilisearchKey": secret},
    "the password in secrets.databaseUrl": lambda secret: {
        "databaseUrl": f"postgresql://sie:{secret}@db.example.internal:5432/sie"
    },
    "the password in secrets.databaseReadUrl": lambda secret: {
        "databaseReadUrl": f"postgresql://sie:{secret}@db-replica.example.internal:5432/sie"
    },
    "the password in secrets.redisUrl": lambda secret: {
        "redisUrl": f"redis://:{secret}@redis.example.internal:6379/0"
    },
}


def test_the_repository_scan_finds_the_secrets_compose_and_the_examples_publish() -> None:
    assert {"sie-dev-password", "sie-compose-api-secret-key-not-for-production", "password"} <= set(PUBLISHED)


@pytest.mark.parametrize("environment", ["production", "staging"])
@pytest.mark.parametrize("secret", sorted(PUBLISHED), ids=lambda secret: f"{secret}@{PUBLISHED[secret]}")
def test_outside_development_every_secret_published_in_the_repository_is_refused(
    secret: str, environment: str
) -> None:
    fields: dict[str, Any] = {}
    for field in SECRET_FIELDS.values():
        fields |= field(secret.upper())  # any case: the app compares placeholders ignoring it too
    values = merged(REQUIRED_VALUES, {"secrets": fields, "config": {"environment": environment}})
    with pytest.raises(HelmRenderError) as error:
        render(values)
    for name in SECRET_FIELDS:
        assert f"{name} is published in the SIE repository" in str(error.value)
    assert f"ENVIRONMENT={environment} needs a secret of its own" in str(error.value)


def test_published_secrets_are_fine_for_development_without_the_dev_profile() -> None:
    values = merged(
        REQUIRED_VALUES, {"config": {"environment": "development"}, "secrets": {"apiSecretKey": "password"}}
    )
    assert render(values).get("ConfigMap", "sie-config")["data"]["ENVIRONMENT"] == "development"


def test_dev_profile_runs_its_own_backing_services_and_points_every_url_at_them(dev_render: Rendered) -> None:
    images = {
        m.name: m.body["spec"]["template"]["spec"]["containers"][0]["image"]
        for m in dev_render.of_kind("StatefulSet")
    }
    assert images == {
        "sie-postgresql": "docker.io/library/postgres:16",
        "sie-redis": "docker.io/library/redis:7",
        "sie-meilisearch": "docker.io/getmeili/meilisearch:v1.15.2",
    }
    for name in images:
        statefulset = dev_render.get("StatefulSet", name)["spec"]
        assert statefulset["replicas"] == 1
        assert statefulset["serviceName"] in dev_render.names("Service")
    secret = decoded(dev_render.get("Secret", "sie"))
    assert secret["DATABASE_URL"] == f"postgresql://sie:{secret['POSTGRES_PASSWORD']}@sie-postgresql:5432/sie"
    assert secret["REDIS_URL"] == "redis://sie-redis:6379/0"
    assert (
        dev_render.get("ConfigMap", "sie-config")["data"]["MEILISEARCH_URL"] == "http://sie-meilisearch:7700"
    )
    assert "DEV PROFILE" in dev_render.notes


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


GENERATED = ("API_SECRET_KEY", "POSTGRES_PASSWORD", "MEILISEARCH_KEY")


def test_the_dev_profile_runs_in_development_on_secrets_generated_for_it() -> None:
    """Offline, as `helm template` and a first install, `lookup` finds no Secret: new random values,
    one set per render, so the Secret, the migration hook's copy and the checksum all agree."""
    templates = render_templates({"dev": {"enabled": True}})
    manifests = [
        body
        for path, text in templates.items()
        if not path.endswith("NOTES.txt")
        for body in yaml.safe_load_all(text)
        if body
    ]

    def named(kind: str, name: str) -> dict[str, Any]:
        return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)

    assert named("ConfigMap", "sie-config")["data"]["ENVIRONMENT"] == "development"
    migration = named("Job", "sie-migrations")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "ENVIRONMENT", "value": "development"} in migration["env"]
    secret = decoded(named("Secret", "sie"))
    published = set(published_secrets(REPO_ROOT))
    for key in GENERATED:
        assert re.fullmatch(r"[A-Za-z0-9]{32}", secret[key]) and secret[key] not in published, key
    assert len({secret[key] for key in GENERATED}) == len(GENERATED)
    assert decoded(named("Secret", "sie-migrations")) == secret
    checksum = hashlib.sha256(templates["sie/templates/secret.yaml"].encode()).hexdigest()
    for name in ("sie-api", "sie-worker", "sie-scheduler", "sie-operator"):
        annotations = named("Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["checksum/secret"] == checksum, name
    # Another offline render cannot see the first one's Secret: that is lookup's job on a cluster.
    assert (
        decoded(render({"dev": {"enabled": True}}).get("Secret", "sie"))["API_SECRET_KEY"]
        != secret["API_SECRET_KEY"]
    )


# No hooks: nothing would run their Jobs, and Helm would wait for them.
HOOKLESS_DEV = {
    "dev": {"enabled": True},
    "migrations": {"enabled": False},
    "operator": {"apiKeySecret": {"name": "k"}},
}


def manifest_named(manifest: str, kind: str, name: str) -> dict[str, Any]:
    return next(
        body
        for body in yaml.safe_load_all(manifest)
        if body and body["kind"] == kind and body["metadata"]["name"] == name
    )


@pytest.mark.slow
@pytest.mark.asyncio
async def test_generated_dev_secrets_survive_an_upgrade(tmp_path: Path) -> None:
    """A real `helm install`, then `helm upgrade`, against a Kubernetes API stand-in: the upgrade's
    `lookup` reads the Secret the install stored, and renders the same values (offline it cannot)."""
    async with helm_cluster(tmp_path, NAMESPACE) as (cluster, helm):
        await asyncio.to_thread(helm.install, CHART_DIR, RELEASE, HOOKLESS_DEV, namespace=NAMESPACE)
        installed = decoded(cluster.objects["v1/secrets", NAMESPACE, RELEASE])
        upgrade = await asyncio.to_thread(helm.upgrade, CHART_DIR, RELEASE, HOOKLESS_DEV, namespace=NAMESPACE)
        kept = decoded(cluster.objects["v1/secrets", NAMESPACE, RELEASE])
    assert decoded(manifest_named(upgrade["manifest"], "Secret", RELEASE)) == installed == kept
    published = set(published_secrets(REPO_ROOT))
    for key in GENERATED:
        assert re.fullmatch(r"[A-Za-z0-9]{32}", installed[key]) and installed[key] not in published, key


@pytest.mark.slow
@pytest.mark.asyncio
async def test_production_refuses_a_published_secret_in_the_secret_it_is_given(
    tmp_path: Path, production_values: dict[str, Any]
) -> None:
    stored = {
        "API_SECRET_KEY": "sie-compose-api-secret-key-not-for-production",
        "DATABASE_URL": "postgresql://sie:sie-dev-password@db.internal:5432/sie",
        "REDIS_URL": "redis://redis.internal:6379/0",
    }
    async with helm_cluster(tmp_path, NAMESPACE) as (cluster, helm):
        cluster.objects["v1/secrets", NAMESPACE, "sie-credentials"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "sie-credentials",
                "namespace": NAMESPACE,
                "uid": "s1",
                "resourceVersion": "1",
            },
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in stored.items()},
        }
        with pytest.raises(HelmError) as error:
            await asyncio.to_thread(helm.install, CHART_DIR, RELEASE, production_values, namespace=NAMESPACE)
    message = str(error.value)
    assert "API_SECRET_KEY in Secret sie-credentials is published in the SIE repository" in message
    assert "the password in DATABASE_URL in Secret sie-credentials is published" in message
    assert "REDIS_URL in Secret" not in message


def test_dev_secrets_you_set_win_over_generated_ones() -> None:
    values = {
        "dev": {
            "enabled": True,
            "postgresql": {"password": "mine-mine"},
            "meilisearch": {"masterKey": "m" * 16},
        },
        "secrets": {"apiSecretKey": "a" * 32},
    }
    secret = decoded(render(values).get("Secret", "sie"))
    assert (secret["POSTGRES_PASSWORD"], secret["MEILISEARCH_KEY"], secret["API_SECRET_KEY"]) == (
        "mine-mine",
        "m" * 16,
        "a" * 32,
    )
