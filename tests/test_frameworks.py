"""Every adapter under frameworks/ honours the contract; unknown names list the valid ones."""

import ast
import contextlib
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from servingbench.adapter import Adapter, HttpRequest, LaunchSpec, ProtocolError, Tunables
from servingbench.frameworks import UnknownFramework, available, load_adapter

NAMES = available()


def test_baseline_and_rayserve_are_there():
    assert {"baseline", "rayserve"} <= set(NAMES)


def test_unknown_framework_lists_valid_ones():
    with pytest.raises(UnknownFramework) as info:
        load_adapter("nosuchframework")
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_adapter_contract(name):
    adapter = load_adapter(name)
    assert isinstance(adapter, Adapter)
    assert adapter.display_name and adapter.protocol
    assert adapter.requirements.is_file(), "each framework pins its own environment"
    assert (adapter.folder / "Dockerfile").is_file(), "the same server as a container image"
    assert adapter.server_dir.is_dir()
    presets = adapter.presets()
    assert {"default", "tuned"} <= set(presets)
    for preset in presets.values():
        adapter.validate(preset.tunables)
        assert preset.note
    assert "http" in adapter.port_names


@pytest.mark.parametrize("name", NAMES)
def test_codec_encodes_texts_natively(name):
    adapter = load_adapter(name)
    request = adapter.encode(["a fine film", "ünïcode ✓"])
    assert isinstance(request, HttpRequest)
    assert request.method in {"POST", "PUT"} and request.path.startswith("/")
    body = request.body.decode("utf-8")
    with contextlib.suppress(ValueError):  # JSON protocols may escape non-ASCII: compare decoded
        body = json.dumps(json.loads(body), ensure_ascii=False)
    assert "a fine film" in body and "ünïcode ✓" in body


@pytest.mark.parametrize("name", NAMES)
def test_codec_rejects_errors_and_garbage(name):
    adapter = load_adapter(name)
    with pytest.raises(ProtocolError):
        adapter.decode(500, b'{"error": "boom"}')
    with pytest.raises(ProtocolError):
        adapter.decode(200, b"<html>not json</html>")
    assert adapter.check_ready(503, b"") is False


def test_invalid_tunables_are_refused():
    adapter = load_adapter("baseline")
    with pytest.raises(ValueError):
        adapter.validate(Tunables(workers=0))
    with pytest.raises(ValueError, match="batching"):
        adapter.validate(Tunables(max_batch_size=8))


@pytest.mark.parametrize("name", NAMES)
def test_codec_is_shared_or_the_adapters_own(name):
    adapter = load_adapter(name)
    own = {m for m in ("encode", "decode") if getattr(type(adapter), m) is not getattr(Adapter, m)}
    assert adapter.codec is not None or own == {"encode", "decode"}, (
        f"{name}: set `codec` (servingbench.codecs) or override both encode and decode, not {sorted(own)}"
    )


def _assignments_to_self(path: Path) -> list[str]:
    """``self.x = ...`` anywhere in an adapter module: state on the one ADAPTER every launch shares."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            owner = getattr(target, "value", None)
            if isinstance(target, ast.Attribute) and isinstance(owner, ast.Name) and owner.id == "self":
                found.append(f"{path.parent.name}/adapter.py:{node.lineno} self.{target.attr}")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_adapters_keep_no_state(name):
    """One ADAPTER serves every launch (and concurrent ones): what a launch needs comes in its LaunchSpec."""
    adapter = load_adapter(name)
    assert vars(adapter) == {}, f"{name}: instance attributes {sorted(vars(adapter))}"
    assert _assignments_to_self(adapter.folder / "adapter.py") == []


@pytest.mark.parametrize("name", NAMES)
def test_base_validation_holds_for_every_adapter(name):
    adapter = load_adapter(name)
    default = adapter.presets()["default"].tunables
    for delay in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"^{name}: max_batch_delay_ms must be a finite number >= 0"):
            adapter.validate(replace(default, max_batch_delay_ms=delay))
    with pytest.raises(ValueError, match=f"^{name}: workers must be >= {adapter.min_workers}"):
        adapter.validate(replace(default, workers=adapter.min_workers - 1))
    for field in ("threads_per_worker", "max_batch_size"):
        with pytest.raises(ValueError, match="threads and batch size >= 1"):
            adapter.validate(replace(default, **{field: 0}))


def test_mlserver_alone_runs_inference_without_workers():
    assert [n for n in NAMES if load_adapter(n).min_workers == 0] == ["mlserver"]
    load_adapter("mlserver").validate(Tunables(workers=0))  # MLServer's parallel_workers=0


def test_torchserve_readiness_reads_the_launch_spec(tmp_path):
    """With no spec (a remote target) a prediction is enough; with one, the spec's management port must
    report every configured worker READY: here nothing listens there, so it is not ready."""
    adapter = load_adapter("torchserve")
    answer = b'[{"label": "positive", "score": 0.98}]'
    assert adapter.check_ready(200, answer) is True
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    ports = {name: closed for name in adapter.port_names}
    spec = LaunchSpec("127.0.0.1", ports, (0,), tmp_path, tmp_path, Tunables())
    assert adapter.check_ready(200, answer, spec) is False
    assert adapter.check_ready(503, b"", spec) is False
