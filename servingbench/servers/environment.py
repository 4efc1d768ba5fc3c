"""The environment every server gets, locally or in a container: the same threads, offline, unbuffered.

One definition, so that a local run and a container run of the same preset differ only in where the
process runs, never in how many threads the model may use or whether a library may go online.
"""

from __future__ import annotations

from servingbench.adapter import Tunables


def server_environment(tunables: Tunables, *, model_dir: str, run_dir: str | None = None,
                       temp_dir: str | None = None, home: str | None = None) -> dict[str, str]:
    """SB_* settings of the shared model, thread caps for every math library, offline, no telemetry.

    ``run_dir``, ``temp_dir`` and ``home`` are set only where the launcher owns a folder for them (a
    local run keeps every file a server or its libraries write inside the run folder).
    """
    threads = str(tunables.threads_per_worker)
    env = {
        "SB_MODEL_DIR": model_dir,
        "SB_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # ONNX Runtime 1.30-1.32 sends a DNS query for a Microsoft telemetry host about 9 s after import
        # (and writes a session file under TMPDIR); this switch is the one that stops it.
        "ORT_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    optional = {"SB_RUN_DIR": run_dir, "TMPDIR": temp_dir, "HOME": home}
    env.update({k: v for k, v in optional.items() if v is not None})
    return env
