"""Start TorchServe in its image with this run's config.properties entries (workers, batching).

TorchServe takes a model's workers and batching from config.properties (``models=``,
``default_workers_per_model``) or from its management API, not from flags, and the image's file turns
environment configuration off (``enable_envvars_config=false``). The image bakes the default preset's
file at build time; docker launch mode (servingbench/servers/docker.py, through the adapter's
``container_command``) replaces the image's CMD with

    python /app/frameworks/torchserve/server/container_config.py \\
        --config /home/model-server/config.properties --out /home/model-server/tmp/config.properties \\
        --set default_workers_per_model=2 --set 'models={"m": {...}}' \\
        -- torchserve --foreground --ts-config /home/model-server/tmp/config.properties ...

which writes the baked file with those entries set to ``--out`` and then execs the command: TorchServe
replaces this process, so the signals of ``docker stop`` (through tini) reach it as with the plain CMD.
Stdlib only; the image's Python runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def apply(text: str, entries: dict[str, str]) -> str:
    """A .properties text with every key of ``entries`` set: replaced where it is, appended otherwise."""
    lines, done = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith(("#", "!")) and key in entries:
            lines.append(f"{key}={entries[key]}")
            done.add(key)
        else:
            lines.append(line)
    lines += [f"{key}={value}" for key, value in entries.items() if key not in done]
    return "\n".join(lines) + "\n"


def entry(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), value


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options before ``--`` and the command after it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the image's config.properties")
    parser.add_argument("--out", type=Path, required=True, help="where this run's file is written")
    parser.add_argument("--set", dest="entries", type=entry, action="append", default=[],
                        metavar="KEY=VALUE", help="an entry to set (repeatable)")
    if "--" not in argv:
        parser.error("give the command to exec after --")
    split = argv.index("--")
    command = argv[split + 1:]
    if not command:
        parser.error("the command after -- is empty")
    return parser.parse_args(argv[:split]), command


def main(argv: list[str] | None = None) -> int:
    args, command = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(apply(args.config.read_text(), dict(args.entries)))
    keys = ", ".join(key for key, _ in args.entries) or "no entries"
    print(f"container_config: wrote {args.out} from {args.config} with {keys}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
