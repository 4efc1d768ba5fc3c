"""Every adapter under frameworks/ honours the contract; unknown names list the valid ones."""

import contextlib
import json

import pytest

from servingbench.adapter import Adapter, HttpRequest, ProtocolError, Tunables
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
