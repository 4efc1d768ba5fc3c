"""Command-line input checks that need no server: clear errors before anything starts."""

import pytest

from servingbench.cli import main, resolve_model


def test_model_folder_must_be_onnx_or_hugging_face(tmp_path):
    with pytest.raises(ValueError, match="neither an ONNX model folder"):
        resolve_model(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match=r"lacks tokenizer\.json, labels\.json"):
        resolve_model(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "labels.json").write_text('["negative", "positive"]')
    assert resolve_model(tmp_path) == tmp_path.resolve()


@pytest.mark.parametrize("argv,message", [
    (["bench", "--framework", "nope"], "unknown framework 'nope'. Valid frameworks: baseline"),
    (["bench", "--framework", "baseline", "--profile", "huge"], "unknown profile 'huge'"),
    (["bench", "--framework", "baseline", "--server-cpus", "0", "--loadgen-cpus", "0"], "overlap"),
    (["compare", "--frameworks", "baseline,nope"], "unknown framework 'nope'"),
    (["tune", "--framework", "nope"], "unknown framework 'nope'"),
])
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_docker_launch_without_a_daemon_is_a_clear_error(capsys, monkeypatch):
    from servingbench.servers import docker as docker_launch

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    try:
        docker_launch.connect()
    except docker_launch.NoDockerDaemon:
        pass
    else:
        pytest.skip("a Docker daemon answers here")
    assert main(["bench", "--framework", "baseline", "--launch", "docker"]) == 2
    assert "docker launch mode needs a Docker daemon" in capsys.readouterr().err


def test_an_unknown_price_family_is_refused_listing_the_valid_ones(capsys, monkeypatch):
    monkeypatch.delenv("PRICE_FAMILY", raising=False)
    assert main(["bench", "--framework", "baseline", "--price-family", "z99"]) == 2
    err = capsys.readouterr().err
    assert "unknown price family 'z99'" in err and "c7i" in err and "m7i" in err
    assert main(["compare", "--frameworks", "baseline", "--price-family", "z99"]) == 2
    assert "unknown price family 'z99'" in capsys.readouterr().err


def test_crosscheck_without_a_run_says_to_bench_first(tmp_path, capsys):
    assert main(["crosscheck", "--framework", "baseline", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no complete baseline run (preset default)" in err
    assert "make bench FRAMEWORK=baseline PRESET=default" in err


def test_crosscheck_refuses_an_unknown_framework(capsys):
    assert main(["crosscheck", "--framework", "nope"]) == 2
    assert "unknown framework 'nope'" in capsys.readouterr().err
