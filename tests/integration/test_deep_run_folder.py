"""Every framework starts and answers from a run folder deeper than a Unix socket path allows.

A socket path may not exceed 107 bytes. Frameworks put sockets under TMPDIR (multiprocessing's
managers in Seldon and MLServer, TorchServe's worker sockets) or their workspace (PyTriton, Ray), and a
run folder of a clone in a long path, or of the tuning layout, already spends that: seen failing for
Seldon and Triton in `make tune`. The launcher hands servers a short link to the run folder's tmp/;
Ray and PyTriton move their sockets themselves. Nothing of either may be left after the stop.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from servingbench.adapter import Tunables
from servingbench.frameworks import available, load_adapter
from servingbench.measure.parity import reference_predictions
from servingbench.servers.local import launched

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TEXT = "A warm, funny and beautifully acted film."


def private_temp_entries() -> set[str]:
    """The launcher's, Ray's and the Triton glue's short folders under the system temp folder."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir()
            if p.name.startswith(("sb-", "sbray-", "sb-triton-"))}


@pytest.mark.parametrize("name", available())
def test_starts_and_answers_from_a_deep_run_folder(name, model_dir, tmp_path):
    adapter = load_adapter(name)
    run_dir = tmp_path / ("deep-" * 12) / "results" / ".partial-20260101T000000Z-framework-preset" / "server"
    assert len(str(run_dir / "tmp")) > 107
    before = private_temp_entries()
    with launched(adapter, Tunables(), run_dir=run_dir, model_dir=model_dir) as server:
        assert server.spec.tmp_dir is not None and len(str(server.spec.tmp_dir)) < 40
        assert server.spec.tmp_dir.resolve() == (run_dir / "tmp").resolve()
        (label, score), = server.predict([TEXT])
        (ref_label, ref_score), = reference_predictions(model_dir, [TEXT])
        assert label == ref_label and abs(score - ref_score) < 1e-4
    assert not server.spec.tmp_dir.exists()
    assert private_temp_entries() <= before
