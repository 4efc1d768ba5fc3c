"""Environments and what was built or measured in them: the cached virtual environments (venvs.py), the
built-model cache (model_cache.py) and the versions of what a run measured (versions.py).

Stdlib only, like venvs.py and model_cache.py: the Makefile runs ``python3 -m servingbench.envs harness ...``
(and users ``python3 -m servingbench.envs.model_cache``) with a bare python3 to bootstrap the harness itself.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The checkout: environments install it editable, caches key on its files, processes start in it."""
