"""Export the whole classifier (tokens -> probabilities) to ONE fp32 ONNX file, plus what a runtime needs.

Runs in the build environment as ``python -m shared_model.build.export_onnx``;
``servingbench.envs.model_cache.ensure_model`` calls it into a temporary folder that is
renamed into the model cache. The output folder holds:
  model.onnx      inputs input_ids, attention_mask[, token_type_ids] (int64 [batch, sequence]);
                  output probabilities (float32 [batch, n_labels]); dynamic batch and sequence axes
  tokenizer.json  the encoder's fast tokenizer, unchanged (the predictor sets truncation and padding itself)
  labels.json     label names in output order
  manifest.json   model key, inputs, versions, opset, max length, the export-time ONNX-vs-torch check, date

Default: the bundled all-MiniLM-L6-v2 encoder with head/head.json. ``--hf-model PATH``: a user's Hugging Face
sequence-classification folder instead (softmax over its logits, labels from its config's id2label).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before the import: no ORT telemetry query
import onnxruntime as ort
import torch
import transformers

from shared_model.build import torch_model

HERE = Path(__file__).resolve().parent

OPSET = 17
CHECK_TEXTS = [
    "A warm, funny film.",
    "",
    "The plot made no sense, the acting was wooden and the ending was lazy; I would not watch it again.",
    "word " * 300,
]
CHECK_TOLERANCE = 1e-5


class HFClassifier(torch.nn.Module):
    """A Hugging Face sequence classifier with softmax on top, so its ONNX output is probabilities too."""

    def __init__(self, model: torch.nn.Module, use_token_type_ids: bool) -> None:
        super().__init__()
        self.model = model
        self.use_token_type_ids = use_token_type_ids

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        kwargs = {"token_type_ids": token_type_ids} if self.use_token_type_ids else {}
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).logits
        return torch.softmax(logits, dim=-1)


def default_model() -> tuple[torch.nn.Module, object, list[str], Path]:
    """(module, tokenizer, labels, tokenizer.json path) for the bundled encoder + committed head."""
    weight, bias, labels = torch_model.read_head()
    model = torch_model.SentimentModel(torch_model.load_encoder(), weight, bias).eval()
    return model, torch_model.load_tokenizer(), labels, torch_model.encoder_path() / "tokenizer.json"


def hf_model(folder: Path, workdir: Path) -> tuple[torch.nn.Module, object, list[str], Path]:
    """(module, tokenizer, labels, tokenizer.json path) for a user's sequence-classification folder."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    if not tokenizer.is_fast:
        raise SystemExit(f"{folder}: needs a fast tokenizer (tokenizer.json) for the tokenizers runtime")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32)
    model.eval()
    id2label = model.config.id2label
    labels = [str(id2label[i]) for i in range(model.config.num_labels)]
    tokenizer_json = folder / "tokenizer.json"
    if not tokenizer_json.exists():  # a slow-format folder: let the fast tokenizer write its own json
        tokenizer.save_pretrained(str(workdir))
        tokenizer_json = workdir / "tokenizer.json"
    use_tt = "token_type_ids" in tokenizer.model_input_names
    return HFClassifier(model, use_tt).eval(), tokenizer, labels, tokenizer_json


def input_names(module: torch.nn.Module) -> list[str]:
    """The graph inputs: token_type_ids only for models that take it."""
    names = ["input_ids", "attention_mask"]
    if not isinstance(module, HFClassifier) or module.use_token_type_ids:
        names.append("token_type_ids")
    return names


def export(out: Path, hf_folder: Path | None = None, model_key: str = "",
           input_hashes: dict | None = None) -> dict:
    """Write model.onnx, tokenizer.json, labels.json and manifest.json into ``out``; return the manifest."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    workdir = out / ".work"
    if hf_folder:
        module, tokenizer, labels, tokenizer_json = hf_model(hf_folder, workdir)
    else:
        module, tokenizer, labels, tokenizer_json = default_model()
    # eval() on the outer module: torch.onnx.export restores the outer module's mode (recursively) after
    # export, so a wrapper left in training mode would switch dropout on for the check below.
    module.eval()
    names = input_names(module)
    max_length = torch_model.MAX_LENGTH

    dummy = torch_model.tokenize(tokenizer, ["a short one", "a somewhat longer sentence for the example"])
    args = tuple(dummy[n] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["probabilities"] = {0: "batch"}
    with torch.inference_mode():
        torch.onnx.export(
            module, args, str(out / "model.onnx"), input_names=names, output_names=["probabilities"],
            dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    onnx.checker.check_model(str(out / "model.onnx"))
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    shutil.rmtree(workdir, ignore_errors=True)
    (out / "labels.json").write_text(json.dumps(labels) + "\n")

    # The export-time check: ONNX Runtime against torch on the same token tensors.
    enc = torch_model.tokenize(tokenizer, CHECK_TEXTS)
    with torch.inference_mode():
        expected = module(*(enc[n] for n in names)).numpy()
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: enc[n].numpy().astype(np.int64) for n in names})[0]
    max_diff = float(np.abs(got - expected).max())
    if not max_diff < CHECK_TOLERANCE:
        raise SystemExit(f"ONNX output differs from torch by {max_diff:.3g} (tolerance {CHECK_TOLERANCE})")

    manifest = {
        "model_key": model_key,
        "source": f"hf-model {hf_folder}" if hf_folder else "all-MiniLM-L6-v2 + shared_model/head/head.json",
        "inputs": names,
        "output": "probabilities",
        "labels": labels,
        "max_length": max_length,
        "padding": "longest in batch",
        "opset": OPSET,
        "dtype": "float32",
        "export_check": {"texts": len(CHECK_TEXTS), "max_abs_diff_vs_torch": max_diff},
        "input_hashes": input_hashes,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "python": platform.python_version()},
        "export_seconds": round(time.monotonic() - started, 1),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the sentiment model to one ONNX file.")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--hf-model", type=Path, default=None,
                        help="a Hugging Face sequence-classification folder to export instead of the default")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--model-key", default="", help="the harness's cache key (manifest)")
    parser.add_argument("--input-hashes", default="{}", help="JSON: sha256 of each export input (manifest)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    manifest = export(args.out, args.hf_model.resolve() if args.hf_model else None, args.model_key,
                      json.loads(args.input_hashes))
    print(f"exported {args.out / 'model.onnx'} (opset {OPSET}); ONNX vs torch max diff "
          f"{manifest['export_check']['max_abs_diff_vs_torch']:.2e}; {manifest['export_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
