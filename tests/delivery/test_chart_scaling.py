"""The chart's scaling settings (docs/scaling.md): PgBouncer in front of PostgreSQL, a read replica,
and one values file per load tier of the handbook (§4.1), each rendered by real Helm."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
from helm_python import Chart, HelmRenderError, HelmValuesError, lint

from tests.delivery.chart_render import (
    CHART_DIR,
    REQUIRED_VALUES,
    Rendered,
    env_of,
    load_values,
    merged,
    render,
)

KUBERNETES_VERSION = kubernetes_validate.latest_version()
READ_URL = "postgresql://sie:pw@db-replica.example.internal:5432/sie"
PGBOUNCER = {"pgbouncer": {"enabled": True}, "secrets": {"databaseReadUrl": READ_URL}}
# Every SIE process that uses the database, and so goes through PgBouncer when it runs.
DATABASE_CLIENTS = ("sie-api", "sie-worker", "sie-ocr-worker", "sie-scheduler")
POOLED = {"secretKeyRef": {"name": "sie", "key": "DATABASE_POOLED_URL"}}
# The handbook's table (§4.1): API instances, workers, and whether the tier auto-scales.
TIERS = {"low": (1, 2, False), "medium": (2, 4, False), "high": (3, 8, False), "peak": (5, 16, True)}


@pytest.fixture(scope="module")
def pgbouncer_render() -> Rendered:
    return render(merged(REQUIRED_VALUES, PGBOUNCER))


def secret_data(rendered: Rendered, name: str = "sie") -> dict[str, str]:
    data = rendered.get("Secret", name)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def container(rendered: Rendered, kind: str, name: str) -> dict[str, Any]:
    return rendered.get(kind, name)["spec"]["template"]["spec"]["containers"][0]


def assert_valid_kubernetes(rendered: Rendered) -> None:
    for manifest in rendered.manifests:
        if manifest.body["apiVersion"].startswith(("sie.example.com", "kopf.dev", "monitoring.coreos.com")):
            continue
        try:
            kubernetes_validate.validate(manifest.body, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest.template}: {manifest.kind}/{manifest.name}: {error.message}")


def test_pgbouncer_and_the_read_replica_are_off_by_default(defaults_render: Rendered) -> None:
    assert "sie-pgbouncer" not in defaults_render.names("Deployment")
    assert "sie-pgbouncer" not in defaults_render.names("Service")
    assert set(secret_data(defaults_render)) == {"DATABASE_URL", "REDIS_URL", "API_SECRET_KEY"}
    for name in DATABASE_CLIENTS:
        env = env_of(container(defaults_render, "Deployment", name))
        assert "DATABASE_URL" not in env and "DATABASE_POOL_MODE" not in env, name


def test_with_pgbouncer_every_component_connects_through_it_in_transaction_mode(
    pgbouncer_render: Rendered,
) -> None:
    assert_valid_kubernetes(pgbouncer_render)
    secret = secret_data(pgbouncer_render)
    assert secret["DATABASE_URL"] == REQUIRED_VALUES["secrets"]["databaseUrl"]
    assert secret["DATABASE_POOLED_URL"] == "postgresql://sie:pw@sie-pgbouncer:5432/sie"
    for name in DATABASE_CLIENTS:
        env = env_of(container(pgbouncer_render, "Deployment", name))
        # `env` wins over the Secret's DATABASE_URL that `envFrom` also brings.
        assert env["DATABASE_URL"] == POOLED, name
        assert env["DATABASE_POOL_MODE"] == "transaction", name
    service = pgbouncer_render.get("Service", "sie-pgbouncer")["spec"]
    assert service["ports"] == [
        {"name": "postgresql", "port": 5432, "targetPort": "postgresql", "protocol": "TCP"}
    ]
    labels = pgbouncer_render.get("Deployment", "sie-pgbouncer")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()


def test_the_migration_hook_goes_straight_to_postgresql(pgbouncer_render: Rendered) -> None:
    # Migrations may use session features (advisory locks, SET) that transaction pooling breaks.
    hook = container(pgbouncer_render, "Job", "sie-migrations")
    assert "DATABASE_URL" not in env_of(hook) and "DATABASE_POOL_MODE" not in env_of(hook)
    (source,) = hook["envFrom"]
    hook_secret = secret_data(pgbouncer_render, source["secretRef"]["name"])
    assert hook_secret["DATABASE_URL"] == REQUIRED_VALUES["secrets"]["databaseUrl"]


def test_pgbouncer_is_configured_from_values_and_reaches_postgresql_with_the_primary_url() -> None:
    settings = {"poolMode": "session", "maxClientConn": 400, "defaultPoolSize": 15, "port": 6432}
    rendered = render(merged(REQUIRED_VALUES, {"pgbouncer": {"enabled": True, **settings}}))
    pgbouncer = container(rendered, "Deployment", "sie-pgbouncer")
    env = env_of(pgbouncer)
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "sie", "key": "DATABASE_URL"}}
    assert (env["POOL_MODE"], env["MAX_CLIENT_CONN"], env["DEFAULT_POOL_SIZE"]) == ("session", "400", "15")
    assert env["LISTEN_PORT"] == "6432" and env["AUTH_TYPE"] == "scram-sha-256"
    repository, tag = pgbouncer["image"].rsplit(":", 1)
    assert repository == "docker.io/edoburu/pgbouncer" and tag.startswith("v1.") and tag != "latest"
    # The entrypoint writes its configuration under a read-only root: an emptyDir takes it.
    assert {"name": "config", "mountPath": "/etc/pgbouncer"} in pgbouncer["volumeMounts"]
    assert secret_data(rendered)["DATABASE_POOLED_URL"] == "postgresql://sie:pw@sie-pgbouncer:6432/sie"
    assert env_of(container(rendered, "Deployment", "sie-api"))["DATABASE_POOL_MODE"] == "session"


@pytest.mark.parametrize(
    ("database_url", "pooled"),
    [
        (
            "postgresql://app:p%40ss:w0rd@db.internal:6543/sie_prod?sslmode=disable",
            "postgresql://app:p%40ss:w0rd@sie-pgbouncer:5432/sie_prod?sslmode=disable",
        ),
        ("postgres://db.internal/sie", "postgres://sie-pgbouncer:5432/sie"),
    ],
)
def test_the_pooled_url_keeps_user_password_database_and_parameters(database_url: str, pooled: str) -> None:
    values = merged(
        REQUIRED_VALUES, {"pgbouncer": {"enabled": True}, "secrets": {"databaseUrl": database_url}}
    )
    assert secret_data(render(values))["DATABASE_POOLED_URL"] == pooled


def test_the_dev_profile_can_run_pgbouncer_in_front_of_its_own_postgresql(
    kind_values: dict[str, Any],
) -> None:
    rendered = render(merged(kind_values, {"pgbouncer": {"enabled": True}}))
    secret = secret_data(rendered)
    password = secret["POSTGRES_PASSWORD"]
    assert secret["DATABASE_URL"] == f"postgresql://sie:{password}@sie-postgresql:5432/sie"
    assert secret["DATABASE_POOLED_URL"] == f"postgresql://sie:{password}@sie-pgbouncer:5432/sie"


def test_with_an_existing_secret_pgbouncer_and_components_read_its_keys(
    production_values: dict[str, Any],
) -> None:
    rendered = render(merged(production_values, {"pgbouncer": {"enabled": True}}))
    assert not rendered.of_kind("Secret")
    api = env_of(container(rendered, "Deployment", "sie-api"))
    assert api["DATABASE_URL"] == {"secretKeyRef": {"name": "sie-credentials", "key": "DATABASE_POOLED_URL"}}
    upstream = env_of(container(rendered, "Deployment", "sie-pgbouncer"))["DATABASE_URL"]
    assert upstream == {"secretKeyRef": {"name": "sie-credentials", "key": "DATABASE_URL"}}


def test_the_read_replica_url_reaches_the_containers_as_a_secret(pgbouncer_render: Rendered) -> None:
    assert secret_data(pgbouncer_render)["DATABASE_READ_URL"] == READ_URL
    # Through `envFrom` of the Secret, never as a plain value in a manifest.
    assert {"secretRef": {"name": "sie"}} in container(pgbouncer_render, "Deployment", "sie-api")["envFrom"]
    assert READ_URL not in str(pgbouncer_render.get("Deployment", "sie-api"))


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"secrets": {"databaseReadUrl": "mysql://db/sie"}}, "/secrets/databaseReadUrl"),
        ({"pgbouncer": {"poolMode": "statement"}}, "value must be one of 'transaction', 'session'"),
        ({"pgbouncer": {"replicaCount": 0}}, "/pgbouncer/replicaCount"),
        ({"pgbouncer": {"maxClients": 10}}, "additional properties 'maxClients' not allowed"),
    ],
)
def test_the_schema_rejects_wrong_scaling_values(values: dict[str, Any], complaint: str) -> None:
    with Chart.load(CHART_DIR) as chart, pytest.raises(HelmValuesError) as error:
        chart.validate_schema(merged(REQUIRED_VALUES, values))
    assert complaint in str(error.value)


def test_a_published_password_in_the_read_url_is_refused_outside_development() -> None:
    values = merged(
        REQUIRED_VALUES,
        {
            "config": {"environment": "production"},
            "secrets": {"databaseReadUrl": "postgresql://sie:sie-dev-password@replica:5432/sie"},
        },
    )
    with pytest.raises(HelmRenderError, match=r"the password in secrets\.databaseReadUrl is published"):
        render(values)


@pytest.fixture(scope="module", params=sorted(TIERS))
def tier(request: pytest.FixtureRequest) -> tuple[str, Rendered]:
    return request.param, render(
        merged(REQUIRED_VALUES, load_values(CHART_DIR / f"values-{request.param}.yaml"))
    )


def test_each_load_tier_sizes_the_api_and_workers_as_the_handbook_table(tier: tuple[str, Rendered]) -> None:
    name, rendered = tier
    api_pods, workers, autoscaled = TIERS[name]
    assert_valid_kubernetes(rendered)
    api = rendered.get("Deployment", "sie-api")["spec"]
    worker = rendered.get("Deployment", "sie-worker")["spec"]
    scalers = {m.name: m.body["spec"] for m in rendered.of_kind("WorkerScaler")}
    if autoscaled:
        hpa = rendered.get("HorizontalPodAutoscaler", "sie-api")["spec"]
        assert hpa["maxReplicas"] == api_pods and hpa["minReplicas"] < api_pods
        assert scalers["sie-worker"]["maxReplicas"] == workers
        assert scalers["sie-worker"]["minReplicas"] < workers
        assert "replicas" not in api and "replicas" not in worker
    else:
        assert not rendered.of_kind("HorizontalPodAutoscaler")
        assert "sie-worker" not in scalers
        assert (api["replicas"], worker["replicas"]) == (api_pods, workers)
    # From the High tier up, the pods' connections go through PgBouncer.
    assert ("sie-pgbouncer" in rendered.names("Deployment")) == (name in ("high", "peak"))


@pytest.mark.parametrize("name", sorted(TIERS))
def test_each_tier_file_passes_the_schema_and_lint(name: str) -> None:
    values = load_values(CHART_DIR / f"values-{name}.yaml")
    with Chart.load(CHART_DIR) as chart:
        chart.validate_schema(values)
    report = lint(CHART_DIR, merged(REQUIRED_VALUES, values), strict=True, namespace="sie")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_retention_and_the_archive_are_settings_of_every_component(defaults_render: Rendered) -> None:
    config = defaults_render.get("ConfigMap", "sie-config")["data"]
    assert "RETENTION_DAYS" not in config and "ARCHIVE_URL" not in config  # off unless set
    values = merged(REQUIRED_VALUES, {"config": {"retentionDays": 400, "archiveUrl": "s3://archive/sie"}})
    config = render(values).get("ConfigMap", "sie-config")["data"]
    assert (config["RETENTION_DAYS"], config["ARCHIVE_URL"]) == ("400", "s3://archive/sie")
