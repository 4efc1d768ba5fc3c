"""Which installer makes an environment: uv, except where torch needs pip's local CPU build."""

from pathlib import Path

from servingbench.envs import venvs

REPO = Path(__file__).resolve().parents[1]


def test_torch_environments_stay_with_pip_and_the_others_use_uv(tmp_path, monkeypatch):
    assert "torch" in venvs.pip_reason(REPO / "frameworks" / "torchserve" / "requirements.txt")
    assert "torch" in venvs.pip_reason(REPO / "shared_model" / "build" / "requirements.txt")
    for name in ("baseline", "bentoml", "mlserver", "rayserve", "seldon", "triton"):
        assert venvs.pip_reason(REPO / "frameworks" / name / "requirements.txt") == "", name
    req = tmp_path / "r.txt"
    req.write_text("torch-model-archiver==0.12.0\ntorchvision-ish==1\n")
    assert venvs.pip_reason(req) == ""  # only torch itself
    monkeypatch.setenv("SERVINGBENCH_INSTALLER", "pip")
    assert venvs.uv_binary() is None
    uv, used = venvs._choose("baseline", REPO / "frameworks" / "baseline" / "requirements.txt", None)
    assert uv is None and used.startswith("pip (uv unavailable")
