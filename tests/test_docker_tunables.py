"""Docker mode applies the run's tunables inside the image, or refuses the run: it never records what it
did not apply.

No daemon here, so each framework's container command and environment are checked where that framework
reads its tunables: parsed by the glue's own argument parser (Ray Serve, Triton), against the bento
arguments service.py declares (BentoML), in the variables the wrapper or server reads (Seldon,
MLServer; tests/integration/test_mlserver.py also loads them with MLServer's own settings code), and by
running TorchServe's container_config.py for real. For the default preset the container must do what
the Dockerfile's CMD and ENV do, since that is what users of the image (and deploy/) get.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from servingbench.adapter import Adapter, Tunables
from servingbench.envs import REPO
from servingbench.frameworks import FRAMEWORKS_DIR, load_adapter
from servingbench.presets import presets_of
from servingbench.servers import docker as dl

FRAMEWORKS = sorted(p.name for p in FRAMEWORKS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._")
PRESETS = ("default", "tuned", "other")
"""Both presets, and other tunables (other_tunables) so that a value dropped on the way in cannot pass
for a default one."""
CONFIG_WRITTEN_AT_START = {"torchserve"}
"""Frameworks whose container command writes their config before exec'ing the image's own command."""


def other_tunables(adapter: Adapter) -> Tunables:
    """Unlike the default preset in every tunable the framework accepts (the first candidate it validates)."""
    base = adapter.presets()["default"].tunables
    for change in ({"workers": 2, "threads_per_worker": 2, "max_batch_size": 8, "max_batch_delay_ms": 3.0},
                   {"workers": 2, "threads_per_worker": 2},  # frameworks without batching
                   {"threads_per_worker": 2, "max_batch_size": 8, "max_batch_delay_ms": 3.0}):  # one worker
        candidate = replace(base, **change)
        try:
            adapter.validate(candidate)
        except ValueError:
            continue
        return candidate
    raise AssertionError(f"{adapter.name} accepts none of the candidate tunables")


def tunables_of(adapter: Adapter, preset: str) -> Tunables:
    if preset == "other":
        return other_tunables(adapter)
    return presets_of(adapter)[preset].tunables  # tuned: frameworks/<name>/tuned.json when earned


def _spec(adapter: Adapter, tunables: Tunables, tmp_path: Path) -> dl.ContainerSpec:
    ports = {name: 41000 + i for i, name in enumerate(dl.container_ports(adapter))}
    return dl.container_spec(adapter, tunables, cpus=(0,), mem_limit="2g", ports=ports, model_dir=tmp_path)


def _instructions(name: str, keyword: str) -> list[str]:
    steps = dl.dockerfile_instructions(FRAMEWORKS_DIR / name / "Dockerfile")
    return [args for kw, args in steps if kw == keyword]


def dockerfile_exec(name: str, keyword: str) -> list[str]:
    """The exec-form (JSON array) CMD or ENTRYPOINT of a Dockerfile; [] when it has none."""
    found = _instructions(name, keyword)
    return json.loads(found[-1]) if found else []


def dockerfile_env(name: str) -> dict[str, str]:
    """Every ENV KEY=value of a Dockerfile."""
    pairs = [item.partition("=") for args in _instructions(name, "ENV") for item in shlex.split(args)]
    return {key: value for key, _, value in pairs}


def flag(argv: list[str], name: str) -> str:
    """The value of the last ``name value`` in argv (as argparse and click read it)."""
    positions = [i for i, arg in enumerate(argv) if arg == name]
    assert positions, f"{name} is not in {argv}"
    return argv[positions[-1] + 1]


def glue_args(adapter: Adapter, module: str, argv: list[str]) -> dict:
    """``argv`` parsed by the glue module's own ``parse_args``, in a fresh interpreter (its imports stay)."""
    code = f"import json, sys; import {module} as m; print(json.dumps(vars(m.parse_args(sys.argv[1:]))))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(adapter.server_dir)]),
           "ORT_DISABLE_TELEMETRY": "1"}
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


# -- where each framework reads its tunables --------------------------------------------------------
def check_baseline(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:4] == ["python", "-m", "uvicorn", "app:app"]
    assert flag(argv, "--workers") == str(t.workers)


def bento_argument_names(adapter: Adapter) -> set[str]:
    """The fields of service.py's ``Arguments``: the bento arguments the service reads."""
    tree = ast.parse((adapter.server_dir / "service.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Arguments")
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def check_bentoml(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:4] == ["python", "-m", "bentoml", "serve"], "the ENTRYPOINT, followed by the command"
    args = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--arg")
    assert set(args) <= bento_argument_names(adapter), f"{args} are not all bento arguments of service.py"
    assert args["workers"] == str(t.workers)
    if t.batching:
        assert args["max_batch_size"] == str(t.max_batch_size)
        assert int(args["max_latency_ms"]) == adapter.max_latency_ms(t)
    else:
        assert "max_batch_size" not in args, "service.py's default (1) is no batching"


def check_mlserver(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv == ["mlserver", "start", "/app/frameworks/mlserver/docker"]
    assert env["MLSERVER_PARALLEL_WORKERS"] == str(t.workers)
    assert int(env["MLSERVER_MODEL_MAX_BATCH_SIZE"]) == (t.max_batch_size if t.batching else 0)
    assert float(env["MLSERVER_MODEL_MAX_BATCH_TIME"]) == (t.max_batch_delay_ms / 1000 if t.batching else 0)
    # MLServer prefers its settings files to the environment: they must leave these keys unset.
    settings = json.loads((adapter.folder / "docker" / "settings.json").read_text())
    model = json.loads((adapter.folder / "docker" / "sentiment" / "model-settings.json").read_text())
    assert "parallel_workers" not in settings
    assert not {"max_batch_size", "max_batch_time"} & set(model)


def check_rayserve(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:2] == ["python", "frameworks/rayserve/server/serve_app.py"]
    args = glue_args(adapter, "serve_app", argv[2:])
    assert (args["replicas"], args["max_batch_size"]) == (t.workers, t.max_batch_size)
    assert args["batch_wait_ms"] == t.max_batch_delay_ms
    assert args["max_ongoing_requests"] == adapter.max_ongoing_requests(t)
    assert (args["host"], args["http_port"]) == ("0.0.0.0", 8000)


def check_seldon(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:4] == ["tini", "-g", "--", "seldon-core-microservice"]
    assert env["GUNICORN_WORKERS"] == str(t.workers)
    assert env["GUNICORN_THREADS"] == str(t.http_threads)  # type: ignore[attr-defined]
    assert env["GRPC_WORKERS"] == str(t.grpc_workers)  # type: ignore[attr-defined]


def run_container_config(adapter: Adapter, argv: list[str], tmp: Path) -> dict[str, str]:
    """Run TorchServe's container_config.py as the image would, on a copy of the image's config: the
    exec'd command (standing in for torchserve) prints the file it was given with --ts-config."""
    assert argv[:5] == ["tini", "-g", "--", "python", "/app/frameworks/torchserve/server/container_config.py"]
    split = argv.index("--", 5)
    options, torchserve = argv[5:split], argv[split + 1:]
    paths = {"/home/model-server/config.properties": str(adapter.folder / "docker" / "config.properties"),
             "/home/model-server/tmp/config.properties": str(tmp / "run" / "config.properties")}
    options = [paths.get(arg, arg) for arg in options]
    config = paths[flag(torchserve, "--ts-config")]
    printer = [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())", config]
    script = adapter.server_dir / "container_config.py"
    done = subprocess.run([sys.executable, str(script), *options, "--", *printer], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert torchserve[:2] == ["torchserve", "--foreground"]
    return properties(done.stdout)


def properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def check_torchserve(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    written = run_container_config(adapter, argv, tmp)
    model = json.loads(written["models"])["m"]["1.0"]
    assert (model["minWorkers"], model["maxWorkers"]) == (t.workers, t.workers)
    assert written["default_workers_per_model"] == str(t.workers)
    assert model["batchSize"] == t.max_batch_size
    assert model["maxBatchDelay"] == max(1, int(t.max_batch_delay_ms))
    assert written["enable_envvars_config"] == "false", "so the file is the only way in"


def check_triton(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:3] == ["python", "-m", "triton_app"]
    args = glue_args(adapter, "triton_app", argv[3:])
    assert args["max_batch_size"] == t.max_batch_size
    assert args["max_queue_delay_us"] == round(t.max_batch_delay_ms * 1000)
    assert t.workers == 1, "one model instance: the adapter refuses others"


def check_litserve(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:4] == ["tini", "-g", "--", "python"], "tini -g signals the whole group (no SIGTERM handler)"
    args = glue_args(adapter, "lit_args", argv[5:])
    assert (args["workers"], args["max_batch_size"]) == (t.workers, t.max_batch_size)
    assert args["batch_timeout_ms"] == t.max_batch_delay_ms and args["host"] == "0.0.0.0"


def check_kserve(adapter: Adapter, t: Tunables, argv: list[str], env: dict[str, str], tmp: Path) -> None:
    assert argv[:2] == ["python", "frameworks/kserve/server/kserve_app.py"]
    args = glue_args(adapter, "kserve_args", argv[2:])
    assert args["workers"] == t.workers and args["host"] == "0.0.0.0" and args["http_port"] == 8080
    assert not t.batching, "no server-side batching: the adapter refuses it"


WHERE: dict[str, Callable[..., None]] = {
    "baseline": check_baseline, "bentoml": check_bentoml, "mlserver": check_mlserver,
    "rayserve": check_rayserve, "seldon": check_seldon, "torchserve": check_torchserve,
    "triton": check_triton, "litserve": check_litserve,
    "kserve": check_kserve,
}


def test_every_framework_says_where_it_reads_its_tunables():
    assert set(WHERE) == set(FRAMEWORKS), "a new framework needs its check here"


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_the_container_applies_the_presets_tunables(name, preset, tmp_path):
    adapter = load_adapter(name)
    tunables = tunables_of(adapter, preset)
    spec = _spec(adapter, tunables, tmp_path)
    assert not spec.image_command and spec.applied_tunables == tunables
    argv = [*dockerfile_exec(name, "ENTRYPOINT"), *spec.run["command"]]  # what the container executes
    env = {**dockerfile_env(name), **spec.run["environment"]}  # `docker run -e` wins over ENV
    assert env["SB_THREADS"] == str(tunables.threads_per_worker)
    WHERE[name](adapter, tunables, argv, env, tmp_path)
    line = dl.docker_command_line(spec)  # the run record's reproduction carries both
    assert shlex.join(spec.run["command"]) in line
    words = shlex.split(line)
    assert all(f"{key}={value}" in words for key, value in adapter.container_env(tunables).items())


@pytest.mark.parametrize("name", sorted(set(FRAMEWORKS) - CONFIG_WRITTEN_AT_START))
def test_default_preset_is_what_the_image_runs(name):
    """The default preset's container command and environment are the Dockerfile's CMD and ENV."""
    adapter = load_adapter(name)
    default = adapter.presets()["default"].tunables
    assert adapter.container_command(default) == dockerfile_exec(name, "CMD")
    image_env = dockerfile_env(name)
    for key, value in adapter.container_env(default).items():
        assert image_env.get(key) == value, f"{name}: ENV {key}={image_env.get(key)}, default preset {value}"


def test_torchserve_default_preset_is_the_images_config(tmp_path):
    """container_config.py at the default preset writes the image's own config.properties back."""
    adapter = load_adapter("torchserve")
    default = adapter.presets()["default"].tunables
    argv = [*dockerfile_exec("torchserve", "ENTRYPOINT"), *adapter.container_command(default)]
    written = run_container_config(adapter, argv, tmp_path)
    baked = properties((adapter.folder / "docker" / "config.properties").read_text())
    assert json.loads(written.pop("models")) == json.loads(baked.pop("models"))
    assert written == baked
    image_cmd = dockerfile_exec("torchserve", "CMD")
    command = adapter.container_command(default)
    swapped = [a.replace("/tmp/config", "/config") for a in command[command.index("--") + 1:]]
    assert swapped == image_cmd, "then the image's own torchserve command, on the written file"


# -- a framework whose image cannot be told its tunables ----------------------------------------------
BaselineAdapter = type(load_adapter("baseline"))


class ImageOnlyBaseline(BaselineAdapter):
    """The real baseline as a framework whose image takes no tunables (a new framework may be so)."""

    @property
    def folder(self) -> Path:
        return FRAMEWORKS_DIR / "baseline"

    def container_command(self, tunables: Tunables) -> list[str] | None:
        return None


def test_tunables_the_image_cannot_apply_are_refused(tmp_path):
    adapter = ImageOnlyBaseline()
    with pytest.raises(ValueError) as info:
        _spec(adapter, Tunables(workers=2), tmp_path)
    message = str(info.value)
    assert message.startswith("baseline: docker mode cannot apply workers=2 inside its image")
    assert "Run it locally (without LAUNCH=docker), or use the default preset" in message


def test_an_image_without_command_runs_its_cmd_at_the_default_preset(tmp_path):
    adapter = ImageOnlyBaseline()
    spec = _spec(adapter, Tunables(threads_per_worker=2), tmp_path)  # threads reach it through SB_THREADS
    assert spec.image_command and "command" not in spec.run
    assert spec.applied_tunables == Tunables(threads_per_worker=2)
    assert spec.run["environment"]["SB_THREADS"] == "2"


class ClashingBaseline(BaselineAdapter):
    @property
    def folder(self) -> Path:
        return FRAMEWORKS_DIR / "baseline"

    def container_env(self, tunables: Tunables) -> dict[str, str]:
        return {"SB_THREADS": "8"}


def test_container_env_cannot_override_the_harness(tmp_path):
    with pytest.raises(ValueError, match="container_env may not set SB_THREADS"):
        _spec(ClashingBaseline(), Tunables(), tmp_path)
