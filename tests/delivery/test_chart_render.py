"""The chart, rendered by real Helm for each profile, is what a cluster would accept and what we mean.

Every manifest passes kubernetes-validate in strict mode (unknown fields are errors) for a current
Kubernetes; our own custom resources are checked against their CRD's schema instead.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_python import HelmRenderError

from tests.delivery.chart_render import (
    CHART_DIR,
    CRD_DIR,
    MONITORING_API,
    NAMESPACE,
    RELEASE,
    REQUIRED_VALUES,
    SIE_API_GROUP,
    Rendered,
    env_of,
    merged,
    pod_specs,
    render,
)

KUBERNETES_VERSION = kubernetes_validate.latest_version()
TASK_TIME_LIMIT = 600
OCR_AT_ZERO = {"ocrWorker": {"replicaCount": 0, "scaler": {"enabled": False}}}
# Kinds no built-in schema covers: ours and kopf's (checked against charts/sie/crds), kube-prometheus-stack's.
CRD_KINDS = {"WorkerScaler", "KopfPeering", "ClusterKopfPeering"}
CUSTOM_KINDS = CRD_KINDS | {"ServiceMonitor", "PrometheusRule"}
CLUSTER_WATCH = {"operator": {"watch": "cluster"}}


@pytest.fixture(scope="module")
def ocr_at_zero_render() -> Rendered:
    return render(merged(REQUIRED_VALUES, OCR_AT_ZERO))


@pytest.fixture(scope="module")
def cluster_operator_render() -> Rendered:
    return render(merged(REQUIRED_VALUES, CLUSTER_WATCH))


@pytest.fixture(params=["defaults", "dev", "production", "ocr-at-zero", "cluster-operator"])
def any_render(request: pytest.FixtureRequest) -> Rendered:
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_render")


def test_defaults_alone_refuse_to_render_and_name_every_missing_setting() -> None:
    with pytest.raises(HelmRenderError) as error:
        render({})
    message = str(error.value)
    for missing in ("DATABASE_URL", "REDIS_URL", "API_SECRET_KEY", "config.meilisearchUrl"):
        assert missing in message


def test_every_manifest_is_valid_kubernetes_in_strict_mode(any_render: Rendered) -> None:
    checked = 0
    for manifest in any_render.manifests:
        if manifest.kind in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest.body, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest.template}: {manifest.kind}/{manifest.name}: {error.message}")
        checked += 1
    assert checked >= 20


def test_no_two_resources_share_a_kind_and_name(any_render: Rendered) -> None:
    keys = [(manifest.kind, manifest.name) for manifest in any_render.manifests]
    assert len(keys) == len(set(keys))


def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The schema of the CRD serving this kind and version, from whichever chart CRD file holds it."""
    group, version = api_version.split("/")
    for path in sorted(CRD_DIR.glob("*.y*ml")):
        for crd in (doc for doc in yaml.safe_load_all(path.read_text()) if doc):
            if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
                (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
                return served["schema"]["openAPIV3Schema"]
    pytest.fail(f"no CRD in charts/sie/crds serves {kind} {api_version}")


def test_custom_resources_match_their_crds(any_render: Rendered) -> None:
    custom = [manifest for manifest in any_render.manifests if manifest.kind in CRD_KINDS]
    kinds = {manifest.kind for manifest in custom}
    assert "WorkerScaler" in kinds and len(kinds & {"KopfPeering", "ClusterKopfPeering"}) == 1
    for manifest in custom:
        schema = crd_schema(manifest.kind, manifest.body["apiVersion"])
        jsonschema.validate(manifest.body, schema)


def test_every_resource_carries_the_standard_labels(any_render: Rendered) -> None:
    for manifest in any_render.manifests:
        labels = manifest.body["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "sie", manifest.name
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "sie"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "sie-0.1.0"
        assert labels["app.kubernetes.io/component"], manifest.name


def test_selectors_find_the_pods_they_are_meant_for(any_render: Rendered) -> None:
    workloads = any_render.of_kind("Deployment") + any_render.of_kind("StatefulSet")
    pod_labels = {}
    for workload in workloads:
        labels = workload.body["spec"]["template"]["metadata"]["labels"]
        assert workload.body["spec"]["selector"]["matchLabels"].items() <= labels.items()
        pod_labels[workload.name] = labels
    for manifest in any_render.of_kind("Service") + any_render.of_kind("PodDisruptionBudget"):
        spec = manifest.body["spec"]
        selector = spec["selector"] if manifest.kind == "Service" else spec["selector"]["matchLabels"]
        matching = [name for name, labels in pod_labels.items() if selector.items() <= labels.items()]
        assert len(matching) == 1, f"{manifest.kind}/{manifest.name} selects {matching}"


def test_pods_run_as_non_root_with_read_only_root_and_no_capabilities(any_render: Rendered) -> None:
    for workload, spec in pod_specs(any_render):
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, workload
        assert security["runAsUser"] != 0, workload
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, workload
            assert context["allowPrivilegeEscalation"] is False, workload
            assert context["capabilities"]["drop"] == ["ALL"], workload
            assert container["resources"]["requests"]["memory"], workload
            assert container["resources"]["limits"]["memory"], workload
            # Whatever the process writes goes to an emptyDir or a volume, never the image.
            volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or workload.startswith("StatefulSet/"), workload


def test_long_running_containers_have_probes(any_render: Rendered) -> None:
    for manifest in any_render.of_kind("Deployment") + any_render.of_kind("StatefulSet"):
        (container,) = manifest.body["spec"]["template"]["spec"]["containers"]
        assert "livenessProbe" in container and "readinessProbe" in container, manifest.name


def test_only_the_operator_and_its_hooks_get_a_kubernetes_token(any_render: Rendered) -> None:
    for workload, spec in pod_specs(any_render):
        with_token = spec["automountServiceAccountToken"]
        assert with_token is workload.endswith(("-operator", "-cleanup", "-operator-key")), workload


def test_workers_may_finish_a_job_at_the_hard_limit_before_they_are_killed(
    production_render: Rendered,
) -> None:
    config = production_render.get("ConfigMap", "sie-config")["data"]
    assert int(config["TASK_TIME_LIMIT"]) == TASK_TIME_LIMIT
    for name in ("sie-worker", "sie-ocr-worker"):
        deployment = production_render.get("Deployment", name)
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 660
        # A rollout never stops an old worker before its replacement runs.
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_a_grace_period_shorter_than_the_hard_limit_is_refused() -> None:
    with pytest.raises(HelmRenderError, match=r"worker.terminationGracePeriodSeconds \(300\) must exceed"):
        render(merged(REQUIRED_VALUES, {"worker": {"terminationGracePeriodSeconds": 300}}))


def test_worker_pools_consume_their_queues_and_export_metrics(defaults_render: Rendered) -> None:
    worker = defaults_render.get("Deployment", "sie-worker")["spec"]["template"]["spec"]["containers"][0]
    ocr = defaults_render.get("Deployment", "sie-ocr-worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == [
        "sie",
        "worker",
        "--queues",
        "ingestion.high,ingestion,ingestion.low",
        "--concurrency",
        "2",
    ]
    assert ocr["command"][:4] == ["sie", "worker", "--queues", "ocr"]
    for container in (worker, ocr):
        env = env_of(container)
        assert env["METRICS_PORT"] == "9808"
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_the_operator_sizes_worker_pools_so_helm_leaves_replicas_alone(defaults_render: Rendered) -> None:
    scalers = {m.name: m.body["spec"] for m in defaults_render.of_kind("WorkerScaler")}
    assert scalers["sie-worker"]["targetRef"] == {"name": "sie-worker"}
    assert scalers["sie-worker"]["queues"] == ["ingestion.high", "ingestion", "ingestion.low"]
    assert scalers["sie-ocr-worker"]["queues"] == ["ocr"]
    assert scalers["sie-ocr-worker"]["minReplicas"] == 0
    assert scalers["sie-worker"]["metricsUnavailable"] == {"policy": "hold", "fallbackReplicas": 2}
    for name in scalers:
        assert "replicas" not in defaults_render.get("Deployment", name)["spec"]


def test_without_the_operator_pools_keep_their_fixed_size() -> None:
    rendered = render(merged(REQUIRED_VALUES, {"operator": {"enabled": False}}))
    assert not rendered.of_kind("WorkerScaler")
    assert rendered.get("Deployment", "sie-worker")["spec"]["replicas"] == 2


def test_the_ocr_pool_can_be_scaled_to_zero(ocr_at_zero_render: Rendered) -> None:
    assert ocr_at_zero_render.get("Deployment", "sie-ocr-worker")["spec"]["replicas"] == 0
    assert "sie-ocr-worker" not in ocr_at_zero_render.names("WorkerScaler")
    assert ocr_at_zero_render.names("WorkerScaler") == {"sie-worker"}


def test_a_disabled_ocr_worker_leaves_nothing_behind() -> None:
    rendered = render(merged(REQUIRED_VALUES, {"ocrWorker": {"enabled": False}}))
    assert not [m for m in rendered.manifests if "ocr-worker" in m.name]


def test_gpu_ocr_requests_a_gpu_on_gpu_nodes(production_render: Rendered) -> None:
    spec = production_render.get("Deployment", "sie-ocr-worker")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"] == "ghcr.io/example/sie-ocr-worker:0.1.0-cuda"
    assert env_of(container)["OCR_DEVICE"] == "cuda"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_the_migration_runs_as_a_hook_before_install_and_upgrade(defaults_render: Rendered) -> None:
    job = defaults_render.get("Job", "sie-migrations")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sie", "migrate"]
    assert container["image"] == "ghcr.io/example/sie-api:0.1.0"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Before install, the release's ConfigMap and Secret do not exist: the hook carries its own.
    config = defaults_render.get("ConfigMap", "sie-config")["data"]
    assert {name: value for name, value in env_of(container).items() if name in config} == config
    (source,) = container["envFrom"]
    hook_secret = defaults_render.get("Secret", source["secretRef"]["name"])
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == annotations["helm.sh/hook"]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    )
    assert hook_secret["data"] == defaults_render.get("Secret", "sie")["data"]
    # The pre-install hook cannot use the chart's service account: it does not exist yet either.
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]


def test_with_an_existing_secret_the_hook_reads_that_secret(production_render: Rendered) -> None:
    job = production_render.get("Job", "sie-migrations")
    (source,) = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert source == {"secretRef": {"name": "sie-credentials"}}
    assert not production_render.of_kind("Secret")


def test_with_the_dev_profile_the_migration_waits_for_the_in_release_database(dev_render: Rendered) -> None:
    annotations = dev_render.get("Job", "sie-migrations")["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,pre-upgrade"


CUSTOM_RESOURCES = ["ingestionsources", "workerscalers", "deadletterreplays"]
WATCH_RULES = [
    {"apiGroups": [SIE_API_GROUP], "resources": CUSTOM_RESOURCES, "verbs": ["get", "list", "watch", "patch"]},
    {
        "apiGroups": [SIE_API_GROUP],
        "resources": [f"{cr}/status" for cr in CUSTOM_RESOURCES],
        "verbs": ["patch"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
]
SCALE_RULE = {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}
CRD_RULE = {
    "apiGroups": ["apiextensions.k8s.io"],
    "resources": ["customresourcedefinitions"],
    "verbs": ["get", "list", "watch"],
}
OPERATOR_CLUSTER_ROLE = f"{NAMESPACE}-sie-operator"


def test_the_operator_role_grants_exactly_what_it_needs_in_its_namespace(defaults_render: Rendered) -> None:
    peering = {
        "apiGroups": ["kopf.dev"],
        "resources": ["kopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    }
    assert defaults_render.get("Role", "sie-operator")["rules"] == [SCALE_RULE, *WATCH_RULES, peering]
    # Nothing cluster-wide: kopf discovers its resources once and never lists namespaces or CRDs
    # (tests/operator/test_namespaced.py runs it with exactly these grants).
    assert not defaults_render.of_kind("ClusterRole") and not defaults_render.of_kind("ClusterRoleBinding")
    binding = defaults_render.get("RoleBinding", "sie-operator")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "sie-operator",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sie-operator", "namespace": NAMESPACE}]
    operator = defaults_render.get("Deployment", "sie-operator")["spec"]["template"]["spec"]
    assert operator["serviceAccountName"] == "sie-operator"
    assert env_of(operator["containers"][0])["POD_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert defaults_render.names("KopfPeering") == {env_of(operator["containers"][0])["OPERATOR_PEERING"]}


def test_a_cluster_wide_operator_gets_its_watch_rules_cluster_wide(cluster_operator_render: Rendered) -> None:
    rendered = cluster_operator_render
    cluster_peering = {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    }
    assert rendered.get("Role", "sie-operator")["rules"] == [SCALE_RULE]
    assert rendered.get("ClusterRole", OPERATOR_CLUSTER_ROLE)["rules"] == [
        CRD_RULE,
        *WATCH_RULES,
        cluster_peering,
    ]
    (container,) = rendered.get("Deployment", "sie-operator")["spec"]["template"]["spec"]["containers"]
    assert "POD_NAMESPACE" not in env_of(container)  # no namespace: every namespace
    assert not rendered.of_kind("KopfPeering")
    assert rendered.names("ClusterKopfPeering") == {env_of(container)["OPERATOR_PEERING"]}


def test_the_operator_calls_the_api_with_its_system_key(defaults_render: Rendered) -> None:
    (container,) = defaults_render.get("Deployment", "sie-operator")["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    api = defaults_render.get("Service", "sie-api")
    assert env["SIE_API_URL"] == f"http://{api['metadata']['name']}:{api['spec']['ports'][0]['port']}"
    assert env["SIE_ADMIN_API_KEY"] == {
        "secretKeyRef": {"name": "sie-operator-key", "key": "SIE_ADMIN_API_KEY"}
    }
    assert container["command"] == ["python", "-m", "sie_operator", "run"]


def test_a_post_install_hook_makes_the_operator_key_once(
    defaults_render: Rendered, dev_render: Rendered
) -> None:
    job = defaults_render.get("Job", "sie-operator-key")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][3] == "bootstrap-key"
    assert container["command"][2] == (CHART_DIR / "files" / "operator-hooks.py").read_text()
    assert env_of(container)["KEY_SECRET"] == "sie-operator-key"
    assert defaults_render.get("Role", "sie-operator-key")["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["sie-operator-key"],
            "verbs": ["get"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]
    # With the dev profile the migration is a post-install hook too: the key comes after it.
    migration, key = (
        int(dev_render.get("Job", name)["metadata"]["annotations"]["helm.sh/hook-weight"])
        for name in ("sie-migrations", "sie-operator-key")
    )
    assert migration < key


def test_a_key_secret_of_your_own_replaces_the_bootstrap_hook() -> None:
    rendered = render(
        merged(REQUIRED_VALUES, {"operator": {"apiKeySecret": {"name": "ops-key", "key": "token"}}})
    )
    assert "sie-operator-key" not in rendered.names("Job")
    (container,) = rendered.get("Deployment", "sie-operator")["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["SIE_ADMIN_API_KEY"] == {"secretKeyRef": {"name": "ops-key", "key": "token"}}


def test_the_uninstall_cleanup_deletes_custom_resources_while_the_operator_still_runs(
    defaults_render: Rendered,
) -> None:
    job = defaults_render.get("Job", "sie-cleanup")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    for kind in ("ServiceAccount", "Role", "RoleBinding"):
        hook = defaults_render.get(kind, "sie-cleanup")["metadata"]["annotations"]
        assert hook["helm.sh/hook"] == "pre-delete" and int(hook["helm.sh/hook-weight"]) < 0
    assert defaults_render.get("Role", "sie-cleanup")["rules"] == [
        {
            "apiGroups": [SIE_API_GROUP],
            "resources": ["ingestionsources", "workerscalers", "deadletterreplays"],
            "verbs": ["list", "deletecollection"],
        }
    ]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[2] == (CHART_DIR / "files" / "operator-hooks.py").read_text()
    assert command[3] == "cleanup"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/sie-operator:0.1.0"


def test_the_helm_test_calls_the_api_health_endpoint(defaults_render: Rendered) -> None:
    pod = defaults_render.get("Pod", "sie-test-health")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = defaults_render.get("Service", "sie-api")
    script = pod["spec"]["containers"][0]["command"][2]
    assert f'"http://{service["metadata"]["name"]}:{service["spec"]["ports"][0]["port"]}/health"' in script
    assert pod["spec"]["restartPolicy"] == "Never"


def test_the_api_scales_on_cpu_and_keeps_one_pod_through_disruptions(defaults_render: Rendered) -> None:
    hpa = defaults_render.get("HorizontalPodAutoscaler", "sie-api")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sie-api"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert "replicas" not in defaults_render.get("Deployment", "sie-api")["spec"]
    assert defaults_render.get("PodDisruptionBudget", "sie-api")["spec"]["maxUnavailable"] == 1
    container = defaults_render.get("Deployment", "sie-api")["spec"]["template"]["spec"]["containers"][0]
    # Liveness must not depend on PostgreSQL or Redis; readiness does.
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_the_ingress_routes_to_the_api_service_with_tls(production_render: Rendered) -> None:
    ingress = production_render.get("Ingress", "sie-api")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"secretName": "sie-tls", "hosts": ["sie.example.com"]}]
    (path,) = ingress["rules"][0]["http"]["paths"]
    assert path["backend"] == {"service": {"name": "sie-api", "port": {"name": "http"}}}
    assert "https://sie.example.com/" in production_render.notes


def test_secrets_and_settings_reach_every_sie_container(defaults_render: Rendered) -> None:
    secret = {
        k: base64.b64decode(v).decode() for k, v in defaults_render.get("Secret", "sie")["data"].items()
    }
    assert secret == {
        "DATABASE_URL": REQUIRED_VALUES["secrets"]["databaseUrl"],
        "REDIS_URL": REQUIRED_VALUES["secrets"]["redisUrl"],
        "API_SECRET_KEY": REQUIRED_VALUES["secrets"]["apiSecretKey"],
    }
    for name in ("sie-api", "sie-worker", "sie-ocr-worker", "sie-scheduler", "sie-operator"):
        (container,) = defaults_render.get("Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [
            {"configMapRef": {"name": "sie-config"}},
            {"secretRef": {"name": "sie"}},
        ], name


@pytest.mark.parametrize(
    ("flags_on", "api_present", "expected"),
    [(True, False, False), (False, True, False), (True, True, True)],
)
def test_servicemonitors_and_rules_need_both_the_flag_and_the_api(
    flags_on: bool, api_present: bool, expected: bool
) -> None:
    values = merged(
        REQUIRED_VALUES,
        {"metrics": {"serviceMonitor": {"enabled": flags_on}, "prometheusRule": {"enabled": flags_on}}},
    )
    rendered = render(values, api_versions=(MONITORING_API,) if api_present else ())
    assert bool(rendered.of_kind("ServiceMonitor")) is expected
    assert bool(rendered.of_kind("PrometheusRule")) is expected
    assert ("no monitoring.coreos.com/v1 API" in rendered.notes) is (flags_on and not api_present)


def test_servicemonitors_scrape_every_metrics_port_under_the_alerts_job_names(
    production_render: Rendered,
) -> None:
    services = production_render.of_kind("Service")
    jobs = set()
    for monitor in production_render.of_kind("ServiceMonitor"):
        assert monitor.body["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        spec = monitor.body["spec"]
        selected = [
            s.body
            for s in services
            if spec["selector"]["matchLabels"].items() <= s.body["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, monitor.name
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] in {port["name"] for port in selected[0]["spec"]["ports"]}
        jobs.add(selected[0]["metadata"]["labels"][spec["jobLabel"]])
    # The alert rules query up{job="sie-api"} and so on.
    assert jobs == {"sie-api", "sie-worker", "sie-ocr-worker", "sie-operator", "sie-scheduler"}


def test_the_prometheus_rule_carries_the_alert_file_groups(
    production_render: Rendered, tmp_path: Path
) -> None:
    (rule,) = production_render.of_kind("PrometheusRule")
    assert rule.body["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules_file = yaml.safe_load((CHART_DIR / "files" / "prometheus" / "sie-alerts.rules.yml").read_text())
    assert rule.body["spec"]["groups"] == rules_file["groups"]
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (apt prometheus) is not installed")
    rendered_rules = tmp_path / "rendered.rules.yml"
    rendered_rules.write_text(yaml.safe_dump({"groups": rule.body["spec"]["groups"]}))
    result = subprocess.run([promtool, "check", "rules", str(rendered_rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_scheduler_its_absence_is_no_alert(production_values: dict[str, Any]) -> None:
    values = {**production_values, "scheduler": {**production_values.get("scheduler", {}), "enabled": False}}
    (rule,) = render(values, api_versions=(MONITORING_API,)).of_kind("PrometheusRule")
    alerts = {item.get("alert") for group in rule.body["spec"]["groups"] for item in group["rules"]}
    assert "SIESchedulerAbsent" not in alerts and "SIEDependencyDown" in alerts


def test_one_dashboard_configmap_per_dashboard_with_the_sidecar_label(production_render: Rendered) -> None:
    dashboards = sorted((CHART_DIR / "dashboards").glob("*.json"))
    configmaps = production_render.of_kind("ConfigMap")
    rendered = {
        key: value
        for configmap in configmaps
        if configmap.body["metadata"]["labels"].get("grafana_dashboard") == "1"
        for key, value in configmap.body["data"].items()
    }
    assert rendered.keys() == {path.name for path in dashboards}
    for path in dashboards:
        assert json.loads(rendered[path.name]) == json.loads(path.read_text())


def test_dashboards_are_off_by_default(defaults_render: Rendered) -> None:
    assert defaults_render.names("ConfigMap") == {"sie-config"}
