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


def test_a_nodeps_companion_is_installed_after_the_requirements_by_both_installers(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("seldon-core==1.18.2\n")
    assert venvs.nodeps_file(req) is None and venvs.all_requirement_lines(req) == ["seldon-core==1.18.2"]
    key_without = venvs.env_key("x", req, "python3")
    (tmp_path / "requirements-nodeps.txt").write_text("# why\nonnxruntime==1.30.0\n")
    assert venvs.all_requirement_lines(req) == ["seldon-core==1.18.2", "--no-deps onnxruntime==1.30.0"]
    assert venvs.env_key("x", req, "python3") != key_without  # a changed companion rebuilds the environment
    companion = str(tmp_path / "requirements-nodeps.txt")
    for steps in (venvs._pip_steps("python3", tmp_path / "env", req, None),
                  venvs._uv_steps(Path("uv"), "python3", tmp_path / "env", req, None)):
        main = next(i for i, step in enumerate(steps) if str(req) in step)
        nodeps = next(i for i, step in enumerate(steps) if companion in step)
        assert nodeps == main + 1 and "--no-deps" in steps[nodeps]


def test_seldon_runs_the_shared_onnxruntime():
    """Seldon's pins cannot hold the shared onnxruntime pin through a resolver; its --no-deps companion
    carries the same one (int8 answers differ between onnxruntime releases)."""
    shared = [line for line in venvs.requirement_lines(REPO / "shared_model" / "requirements.txt")
              if line.startswith("onnxruntime")]
    seldon = venvs.all_requirement_lines(REPO / "frameworks" / "seldon" / "requirements.txt")
    assert [f"--no-deps {line}" for line in shared] == [line for line in seldon if "onnxruntime" in line]
