"""Docker launch mode: the container spec of every framework, and the SDK calls against no daemon.

No daemon is needed (or used): the specs are checked against each Dockerfile and adapter, the run keyword
arguments go through the SDK's own argument and HostConfig builders, and the functions that talk to Docker
are called with real SDK clients pointed at a socket that does not exist, where they must fail clearly.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import docker
import pytest
from docker.models.containers import _create_container_args

from servingbench.adapter import Adapter, Tunables
from servingbench.frameworks import FRAMEWORKS_DIR, load_adapter
from servingbench.servers import docker as dl

FRAMEWORKS = sorted(p.name for p in FRAMEWORKS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._")
NO_SOCKET = "unix:///nonexistent/servingbench-test/docker.sock"
API_VERSION = "1.45"  # explicit, so that constructing a client does not contact a daemon


def _spec(name: str, tmp_path: Path, cpus: tuple[int, ...] = (0,), tunables: Tunables | None = None,
          adapter: Adapter | None = None) -> dl.ContainerSpec:
    adapter = adapter or load_adapter(name)
    tunables = tunables or adapter.presets()["default"].tunables
    names = dl.container_ports(adapter)
    ports = {port_name: 40000 + i for i, port_name in enumerate(names)}
    return dl.container_spec(adapter, tunables, cpus=cpus, mem_limit="2g", ports=ports, model_dir=tmp_path,
                             run_id="t1")


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_spec_matches_dockerfile_and_adapter(name, tmp_path):
    adapter = load_adapter(name)
    spec = _spec(name, tmp_path, cpus=(0, 2))
    exposed = dl.exposed_ports(dl.dockerfile_path(adapter))
    run = spec.run
    # every EXPOSEd port published, on loopback only, to distinct host ports; http is what the adapter uses
    assert sorted(int(p.removesuffix("/tcp")) for p in run["ports"]) == sorted(exposed)
    assert {host for host, _ in run["ports"].values()} == {"127.0.0.1"}
    assert len({port for _, port in run["ports"].values()}) == len(exposed)
    assert spec.container_ports["http"] == exposed[0] and "http" in adapter.port_names
    assert run["ports"][f"{exposed[0]}/tcp"] == ("127.0.0.1", spec.host_ports["http"])
    assert spec.base_url == f"http://127.0.0.1:{spec.host_ports['http']}"
    # the local launcher's CPU budget: the same CPUs, and no more CPU time than they give
    assert run["cpuset_cpus"] == "0,2" and run["nano_cpus"] == 2_000_000_000
    assert run["mem_limit"] == run["memswap_limit"] == "2g"
    # the model, read-only, where the servers look for it
    assert run["volumes"] == {str(tmp_path.resolve()): {"bind": "/model", "mode": "ro"}}
    env = run["environment"]
    assert env["SB_MODEL_DIR"] == "/model" and env["SB_THREADS"] == "1" == env["OMP_NUM_THREADS"]
    assert run["labels"] == {"servingbench": "1", "servingbench.framework": name, "servingbench.run": "t1"}
    assert run["auto_remove"] is True and run["detach"] is True
    # image identity and build
    assert spec.image.startswith(f"servingbench/{name}:") and run["image"] == spec.image
    assert spec.build["dockerfile"] == f"frameworks/{name}/Dockerfile"
    assert Path(spec.build["path"]) == FRAMEWORKS_DIR.parent and spec.build["tag"] == spec.image


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_run_kwargs_are_what_the_sdk_accepts(name, tmp_path):
    """The SDK's own translation into the container config: the real HostConfig a daemon would get."""
    spec = _spec(name, tmp_path)
    args = _create_container_args({**spec.run, "version": API_VERSION})
    host = args["host_config"]
    assert host["CpusetCpus"] == "0" and host["NanoCpus"] == 1_000_000_000
    assert host["Memory"] == 2 * 1024**3 and host["AutoRemove"] is True and host["Init"] is True
    assert host["Binds"] == [f"{tmp_path.resolve()}:/model:ro"]
    for inside, bindings in host["PortBindings"].items():
        assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(spec.run["ports"][inside][1])}]
    assert set(args["labels"]) >= {"servingbench", "servingbench.framework"}


def test_cpu_set_must_be_real(tmp_path):
    with pytest.raises(ValueError, match="CPUs"):
        _spec("baseline", tmp_path, cpus=())
    with pytest.raises(ValueError, match="CPUs"):
        _spec("baseline", tmp_path, cpus=(1, 1))


def test_every_port_needs_a_host_port(tmp_path):
    adapter = load_adapter("mlserver")
    with pytest.raises(ValueError, match="host ports"):
        dl.container_spec(adapter, Tunables(), cpus=(0,), mem_limit="1g", ports={"http": 40000},
                          model_dir=tmp_path)


def test_tunables_are_validated_by_the_adapter(tmp_path):
    with pytest.raises(ValueError, match="batching"):
        dl.container_spec(load_adapter("baseline"), Tunables(max_batch_size=8), cpus=(0,), mem_limit="1g",
                          ports={"http": 40000}, model_dir=tmp_path)


def test_threads_reach_the_container(tmp_path):
    spec = dl.container_spec(load_adapter("baseline"), Tunables(threads_per_worker=2), cpus=(0, 1),
                             mem_limit="1g", ports={"http": 40000}, model_dir=tmp_path)
    assert spec.run["environment"]["SB_THREADS"] == "2" == spec.run["environment"]["OMP_NUM_THREADS"]
    assert not spec.image_command and spec.applied_tunables == Tunables(threads_per_worker=2)


def test_image_tag_follows_content(tmp_path, monkeypatch):
    adapter = load_adapter("baseline")
    tag = dl.image_tag(adapter)
    assert tag == dl.image_tag(adapter), "the tag is a pure function of the files"
    copy = tmp_path / "Dockerfile"
    copy.write_text(dl.dockerfile_path(adapter).read_text() + "\n# changed\n")
    monkeypatch.setattr(dl, "dockerfile_path", lambda _adapter: copy)
    assert dl.image_tag(adapter) != tag


def test_docker_command_line_reproduces_the_spec(tmp_path):
    spec = _spec("mlserver", tmp_path)
    argv = shlex.split(dl.docker_command_line(spec))
    assert argv[:2] == ["docker", "run"] and argv[argv.index(spec.image) + 1:] == spec.run["command"]
    assert "MLSERVER_PARALLEL_WORKERS=1" in argv, "the tunables' environment too"
    assert "127.0.0.1:40000:8080" in argv and f"{tmp_path.resolve()}:/model:ro" in argv
    assert argv[argv.index("--cpuset-cpus") + 1] == "0"


@pytest.fixture()
def no_daemon_client():
    return docker.DockerClient(base_url=NO_SOCKET, version=API_VERSION)


@pytest.mark.parametrize("call", ["build", "run", "stop", "leftovers"])
def test_sdk_calls_fail_clearly_without_a_daemon(call, no_daemon_client, tmp_path):
    spec = _spec("baseline", tmp_path)
    # a bare low-level client is accepted too (wrapped, same socket)
    client = no_daemon_client.api if call == "run" else no_daemon_client
    assert isinstance(no_daemon_client.api, docker.APIClient)
    actions = {
        "build": lambda: dl.build_image(client, spec),
        "run": lambda: dl.run_container(client, spec),
        "stop": lambda: dl.stop_container(client, "servingbench-baseline-t1"),
        "leftovers": lambda: dl.remove_leftovers(client, "baseline"),
    }
    with pytest.raises(dl.NoDockerDaemon) as info:
        actions[call]()
    message = str(info.value)
    assert "docker launch mode needs a Docker daemon; none answers at" in message
    assert "/nonexistent/servingbench-test/docker.sock" in message


def test_connect_fails_clearly_without_a_daemon():
    with pytest.raises(dl.NoDockerDaemon, match="needs a Docker daemon; none answers at unix:///nonexistent"):
        dl.connect(NO_SOCKET)


def test_dockerfile_args_come_from_the_environment(monkeypatch):
    """torchserve's Dockerfile takes PIP_EXTRA_INDEX_URL (the CPU wheel index) as a build argument."""
    adapter = load_adapter("torchserve")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    plain = dl.image_tag(adapter)
    assert dl.build_args(adapter) == {}
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://mirror.invalid/simple")
    assert dl.build_args(adapter) == {"PIP_EXTRA_INDEX_URL": "http://mirror.invalid/simple"}
    assert dl.image_tag(adapter) != plain, "another index may give other wheels: another image"
    assert dl.build_args(load_adapter("baseline")) == {}, "only ARGs the Dockerfile declares"
