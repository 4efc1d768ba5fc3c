"""deploy/: docker compose and Kubernetes manifests agree with the adapters and the Dockerfiles.

Checked statically (no daemon, no cluster): valid YAML, the fields each kind requires, one manifest set per
folder under frameworks/, images named like docker_launch's (servingbench/<framework>), ports equal to what
each Dockerfile EXPOSEs (the first one is the inference port), the same CPU and memory budget everywhere,
the model read-only at /model, and readiness checks that send the adapter's own inference request. The
checks return problems, so the tests can also prove that a broken copy is caught.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from servingbench.envs import REPO
from servingbench.frameworks import FRAMEWORKS_DIR, load_adapter
from servingbench.servers import docker as dl

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
FRAMEWORKS = sorted(p.name for p in FRAMEWORKS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._")
SHARED_MANIFESTS = {"model-pvc.yaml", "kustomization.yaml"}
CPU, MEMORY_BYTES = 1.0, 2 * 1024**3
"""The benchmark's server budget: one CPU, 2 GiB."""
WORKLOAD_KINDS = {
    ("apps/v1", "Deployment"): "plain",
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve",
    ("machinelearning.seldon.io/v1", "SeldonDeployment"): "seldon",
    ("ray.io/v1", "RayService"): "ray",
}
EXPECTED_FORM = {"baseline": "plain", "bentoml": "plain", "mlserver": "kserve", "torchserve": "kserve",
                 "triton": "kserve", "seldon": "seldon", "rayserve": "ray",
                 "litserve": "plain", "kserve": "kserve"}
"""The form each framework's users deploy it in; a new framework may use any workload kind."""
RAY_CLUSTER_PORTS = {6379, 8265, 10001}
"""Ports of a KubeRay head that belong to the Ray cluster, not to the image's server."""


def exposed(name: str) -> tuple[int, ...]:
    return dl.exposed_ports(dl.dockerfile_path(load_adapter(name)))


MEMORY_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30,  # docker's mem_limit: binary, lowercase
                "K": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}  # Kubernetes


def quantity_bytes(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)([a-zA-Z]*)", str(text))
    return float(found.group(1)) * MEMORY_UNITS[found.group(2)] if found else float("nan")


def default(value: object) -> str:
    """`${VAR:-default}` in compose -> default."""
    found = re.fullmatch(r"\$\{\w+:-([^}]+)\}", str(value))
    return found.group(1) if found else str(value)


def probe_problems(where: str, name: str, command: list[str]) -> list[str]:
    """The readiness check runs python -c with the adapter's own request to the image's inference port."""
    if command[-3:-1] != ["python", "-c"]:
        return [f"{where}: the check runs `python -c` (no curl in the images): {command}"]
    code = command[-1]
    try:
        compile(code, where, "exec")
    except SyntaxError as exc:
        return [f"{where}: the check is not valid Python: {exc}"]
    request = load_adapter(name).encode(["healthcheck"])
    found = re.search(r"Request\('http://127\.0\.0\.1:(\d+)(/[^']*)', data=b'(.*?)'", code)
    if not found:
        return [f"{where}: the check sends no inference request: {code}"]
    port, path, body = int(found.group(1)), found.group(2), json.loads(found.group(3))
    problems = []
    if port != exposed(name)[0]:
        problems.append(f"{where}: the check calls port {port}, the image serves on {exposed(name)[0]}")
    if path != request.path or body != json.loads(request.body):
        problems.append(f"{where}: the check is not the adapter's request {request.path} {request.body!r}")
    return problems


# -- compose ---------------------------------------------------------------------------------------------
def check_compose(doc: dict, frameworks: list[str]) -> list[str]:
    services = doc.get("services") or {}
    problems = []
    if sorted(services) != frameworks:
        problems.append(f"compose services {sorted(services)} must be the frameworks {frameworks}")
    budgets = set()
    host_ports: list[int] = []
    for name, svc in services.items():
        if name not in frameworks:
            continue
        where = f"compose {name}"
        build = svc.get("build") or {}
        if build.get("context") != ".." or build.get("dockerfile") != f"frameworks/{name}/Dockerfile":
            problems.append(f"{where}: build from context .. with frameworks/{name}/Dockerfile")
        if str(svc.get("image", "")).split(":")[0] != dl.image_repository(name):
            problems.append(f"{where}: image must be {dl.image_repository(name)}")
        budget = (default(svc.get("cpus")), default(svc.get("mem_limit")))
        budgets.add(budget)
        if float(budget[0]) != CPU or quantity_bytes(budget[1]) != MEMORY_BYTES:
            problems.append(f"{where}: the budget is {CPU:g} CPU and 2 GiB, got {budget}")
        if not any(str(v).endswith(":/model:ro") for v in svc.get("volumes") or []):
            problems.append(f"{where}: mount the model read-only at /model")
        inside = []
        for mapping in svc.get("ports") or []:
            parts = str(mapping).split(":")
            if len(parts) != 3 or parts[0] != "127.0.0.1":
                problems.append(f"{where}: port {mapping!r} must be 127.0.0.1:<host>:<container>")
                continue
            host_ports.append(int(parts[1]))
            inside.append(int(parts[2]))
        if sorted(inside) != sorted(exposed(name)):
            problems.append(f"{where}: publishes {inside}, the Dockerfile EXPOSEs {list(exposed(name))}")
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:1] != ["CMD"]:
            problems.append(f"{where}: healthcheck test must be a CMD list")
        else:
            problems += probe_problems(where, name, [str(t) for t in test])
    if len(budgets) > 1:
        problems.append(f"compose: every service gets the same budget, got {budgets}")
    if len(set(host_ports)) != len(host_ports):
        problems.append(f"compose: host ports must be distinct: {sorted(host_ports)}")
    return problems


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose():
    assert check_compose(load_compose(), FRAMEWORKS) == []


@pytest.mark.parametrize("break_it", ["port", "host_ip", "duplicate_host_port", "budget", "probe", "missing"])
def test_compose_checks_catch_a_broken_copy(break_it, tmp_path):
    text = COMPOSE.read_text()
    if break_it == "port":
        text = text.replace('"127.0.0.1:18000:8000"', '"127.0.0.1:18000:8001"')
    elif break_it == "host_ip":
        text = text.replace('"127.0.0.1:18000:8000"', '"0.0.0.0:18000:8000"')
    elif break_it == "duplicate_host_port":
        text = text.replace('"127.0.0.1:18010:3000"', '"127.0.0.1:18000:3000"')
    elif break_it == "probe":
        text = text.replace("/api/v1.0/predictions", "/health/ping")
    copy_path = tmp_path / "docker-compose.yml"
    copy_path.write_text(text)
    doc = yaml.safe_load(copy_path.read_text())
    if break_it == "budget":
        doc["services"]["triton"]["mem_limit"] = "4g"
    if break_it == "missing":
        del doc["services"]["bentoml"]
    assert text != COMPOSE.read_text() or break_it in ("budget", "missing")
    assert check_compose(doc, FRAMEWORKS)


def test_a_new_framework_folder_needs_compose():
    assert check_compose(load_compose(), sorted([*FRAMEWORKS, "newframework"]))


# -- Kubernetes ------------------------------------------------------------------------------------------
def pod_specs(doc: dict) -> list[dict]:
    """The pod specs of a workload document, whatever its kind."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Deployment":
        return [spec["template"]["spec"]]
    if kind == "InferenceService":
        return [spec["predictor"]]
    if kind == "SeldonDeployment":
        return [c["spec"] for p in spec["predictors"] for c in p["componentSpecs"]]
    if kind == "RayService":
        return [spec["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]]
    return []


def required_field_problems(doc: dict, where: str) -> list[str]:
    problems = []
    for key in ("apiVersion", "kind"):
        if not doc.get(key):
            problems.append(f"{where}: {key} is required")
    if not (doc.get("metadata") or {}).get("name"):
        problems.append(f"{where}: metadata.name is required")
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    try:
        if kind == "Deployment":
            selector = spec["selector"]["matchLabels"]
            labels = spec["template"]["metadata"]["labels"]
            if not selector or not set(selector.items()) <= set(labels.items()):
                problems.append(f"{where}: selector.matchLabels must match the pod template's labels")
        elif kind == "Service":
            if not spec["selector"] or not spec["ports"]:
                problems.append(f"{where}: a Service needs a selector and ports")
        elif kind == "InferenceService":
            if not (spec["predictor"].get("containers") or spec["predictor"].get("model")):
                problems.append(f"{where}: spec.predictor needs a model or containers")
            if spec["predictor"].get("containers", [{}])[0].get("name") != "kserve-container":
                problems.append(f"{where}: KServe's custom container is named kserve-container")
        elif kind == "SeldonDeployment":
            for predictor in spec["predictors"]:
                names = {c["name"] for s in pod_specs(doc) for c in s["containers"]}
                graph = predictor["graph"]
                if graph["name"] not in names or graph["type"] != "MODEL" or not predictor["name"]:
                    problems.append(f"{where}: the graph's MODEL node must name a container of {names}")
        elif kind == "RayService":
            config = yaml.safe_load(spec["serveConfigV2"])
            if not config["applications"] or not spec["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]:
                problems.append(f"{where}: serveConfigV2 needs applications; the head group rayStartParams")
        elif kind == "PersistentVolumeClaim" and not (
            spec["accessModes"] and spec["resources"]["requests"]["storage"]
        ):
            problems.append(f"{where}: a PVC needs accessModes and a storage request")
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        problems.append(f"{where}: {kind} lacks a required field ({exc!r})")
    return problems


def container_problems(name: str, doc: dict, where: str) -> list[str]:
    problems = []
    http = exposed(name)[0]
    for spec in pod_specs(doc):
        claims = {v["name"]: v.get("persistentVolumeClaim", {}) for v in spec.get("volumes") or []}
        (container,) = spec["containers"]
        image = str(container.get("image", ""))
        if image.split(":")[0] != dl.image_repository(name):
            problems.append(f"{where}: image {image} must be {dl.image_repository(name)}:<tag>")
        ports = {int(p["containerPort"]) for p in container.get("ports") or []}
        allowed = set(exposed(name)) | (RAY_CLUSTER_PORTS if doc["kind"] == "RayService" else set())
        if http not in ports or not ports <= allowed:
            problems.append(f"{where}: container ports {sorted(ports)} must include {http} and be EXPOSEd")
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            got = resources.get(part) or {}
            if float(got.get("cpu", 0)) != CPU or quantity_bytes(got.get("memory", "0")) != MEMORY_BYTES:
                problems.append(f"{where}: resources.{part} must be the budget ({CPU:g} CPU, 2Gi): {got}")
        mounts = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == "/model"]
        if not (mounts and mounts[0].get("readOnly") and
                claims.get(mounts[0]["name"], {}).get("claimName") == "servingbench-model"):
            problems.append(f"{where}: mount the PVC servingbench-model read-only at /model")
        command = ((container.get("readinessProbe") or {}).get("exec") or {}).get("command") or []
        problems += probe_problems(where, name, [str(c) for c in command]) if command else [
            f"{where}: a readiness probe through the model (exec python -c) is required"]
    return problems


def check_manifests(name: str, docs: list[dict]) -> list[str]:
    where = f"deploy/k8s/{name}.yaml"
    problems = []
    for doc in docs:
        problems += required_field_problems(doc, f"{where} {doc.get('kind')}")
    workloads = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in WORKLOAD_KINDS]
    if len(workloads) != 1:
        return [*problems, f"{where}: exactly one workload ({sorted(k for _, k in WORKLOAD_KINDS)})"]
    (workload,) = workloads
    form = WORKLOAD_KINDS[(workload["apiVersion"], workload["kind"])]
    if name in EXPECTED_FORM and form != EXPECTED_FORM[name]:
        problems.append(f"{where}: {name} is deployed as {EXPECTED_FORM[name]}, not {form}")
    if form == "plain":
        services = [d for d in docs if d.get("kind") == "Service"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if not services or not set(services[0]["spec"]["selector"].items()) <= set(labels.items()):
            problems.append(f"{where}: a Service must select the Deployment's pods")
        elif exposed(name)[0] not in {p.get("port") for p in services[0]["spec"]["ports"]}:
            problems.append(f"{where}: the Service exposes the inference port {exposed(name)[0]}")
    if workload["kind"] == "SeldonDeployment":
        for predictor in workload["spec"]["predictors"]:
            if predictor["graph"].get("endpoint", {}).get("httpPort") != exposed(name)[0]:
                problems.append(f"{where}: the graph endpoint's httpPort is the image's {exposed(name)[0]}")
    return problems + container_problems(name, workload, where)


def load_manifest(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_one_manifest_set_per_framework():
    files = {p.name for p in K8S.glob("*.yaml")}
    assert files - SHARED_MANIFESTS == {f"{n}.yaml" for n in FRAMEWORKS}
    assert files >= SHARED_MANIFESTS


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_manifests(name):
    assert check_manifests(name, load_manifest(K8S / f"{name}.yaml")) == []


def test_model_pvc():
    docs = load_manifest(K8S / "model-pvc.yaml")
    problems = [p for d in docs for p in required_field_problems(d, f"model-pvc.yaml {d.get('kind')}")]
    assert problems == []
    claims = [d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claims == ["servingbench-model"]


def test_kustomization_lists_everything():
    doc = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(doc["resources"]) == manifests
    assert sorted(i["name"] for i in doc["images"]) == [dl.image_repository(n) for n in FRAMEWORKS]


def _import_path_defined(import_path: str) -> bool:
    module, _, attribute = import_path.partition(":")
    source = FRAMEWORKS_DIR / "rayserve" / "server" / f"{module}.py"
    if not source.is_file():
        return False
    tree = ast.parse(source.read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assigned = [t for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
    names |= {t.id for t in assigned if isinstance(t, ast.Name)}
    return attribute in names


def test_rayservice_routes_to_the_adapters_path():
    (service,) = [d for d in load_manifest(K8S / "rayserve.yaml") if d["kind"] == "RayService"]
    (app,) = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    assert app["route_prefix"] == load_adapter("rayserve").encode(["x"]).path
    assert (FRAMEWORKS_DIR / "rayserve" / "server" / f"{app['import_path'].split(':')[0]}.py").is_file()


def test_rayservice_import_path_exists():
    (service,) = [d for d in load_manifest(K8S / "rayserve.yaml") if d["kind"] == "RayService"]
    (app,) = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    assert _import_path_defined(app["import_path"])


@pytest.mark.parametrize("break_it",
                         ["port", "image", "budget", "probe", "mount", "selector", "seldon_graph"])
def test_manifest_checks_catch_a_broken_copy(break_it, tmp_path):
    name = {"seldon_graph": "seldon", "selector": "bentoml", "probe": "triton"}.get(break_it, "mlserver")
    text = (K8S / f"{name}.yaml").read_text()
    if break_it == "port":
        text = text.replace("containerPort: 8080", "containerPort: 8081")
    elif break_it == "probe":
        text = text.replace('\\"shape\\": [1, 1]', '\\"shape\\": [1]')
    (tmp_path / "m.yaml").write_text(text)
    docs = copy.deepcopy(load_manifest(tmp_path / "m.yaml"))
    workload = docs[0] if docs[0]["kind"] != "Service" else docs[1]
    container = pod_specs(workload)[0]["containers"][0]
    if break_it == "image":
        container["image"] = "mlserver:1.7.1"
    elif break_it == "budget":
        container["resources"]["limits"]["cpu"] = "2"
    elif break_it == "mount":
        container["volumeMounts"][0]["readOnly"] = False
    elif break_it == "selector":
        docs[1]["spec"]["selector"] = {"app": "someone-else"}
    elif break_it == "seldon_graph":
        workload["spec"]["predictors"][0]["graph"]["name"] = "model"
    assert check_manifests(name, docs)
