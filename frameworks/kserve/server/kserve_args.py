"""The command line of kserve_app.py: stdlib only, so the harness's tests can parse it without KServe.

kserve.model_server parses ``sys.argv`` when it is imported (``parse_known_args``, abbreviations allowed),
so kserve_app.py reads these flags first and hands KServe an empty command line.
"""

from __future__ import annotations

import argparse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="KServe ModelServer of the shared sentiment model",
                                     allow_abbrev=False)
    parser.add_argument("--host", default="127.0.0.1",
                        help="HTTP bind address (KServe hard-codes 0.0.0.0; the glue rewrites it)")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1, help="ModelServer workers (uvicorn processes)")
    parser.add_argument("--model-name", default="sentiment")
    return parser.parse_args(argv)
