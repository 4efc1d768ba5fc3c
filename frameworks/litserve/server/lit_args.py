"""The command line of lit_app.py: stdlib only, so the harness's tests can parse it without LitServe."""

from __future__ import annotations

import argparse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="LitServe server of the shared sentiment model")
    parser.add_argument("--host", default="127.0.0.1", help='LitServe accepts "127.0.0.1", "0.0.0.0" or "::"')
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="LitServer workers_per_device")
    parser.add_argument("--max-batch-size", type=int, default=1, help="LitAPI max_batch_size")
    parser.add_argument("--batch-timeout-ms", type=float, default=0.0, help="LitAPI batch_timeout, in ms")
    return parser.parse_args(argv)
