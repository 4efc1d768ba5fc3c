"""Command line: ``servingbench {bench,compare,tune,crosscheck,loadgen-worker,list,model,report}``.

The Makefile is the front door and calls this console script.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from servingbench.adapter import PROTOCOLS
from servingbench.cpusets import format_cpus, parse_cpus, split_cpus
from servingbench.envs.model_cache import check_variant
from servingbench.frameworks import UnknownFramework, available, load_adapter
from servingbench.load.locust import Distribution
from servingbench.measure.cost import validate_family
from servingbench.presets import presets_of
from servingbench.profiles import PROFILES, Profile, get_profile
from servingbench.record.results import results_root
from servingbench.scenarios import STEADY, get_scenario, parse_scenarios
from servingbench.scenarios import available as scenario_names
from servingbench.scenarios.base import ScenarioOptions
from servingbench.scenarios.scaled import THIS_RUN, parse_rate_from, parse_time_scale
from servingbench.servers.errors import LaunchError
from servingbench.servers.grpc_target import check_protocol, grpc_frameworks
from servingbench.texttable import text_table

if TYPE_CHECKING:
    from servingbench.run import BenchConfig

DEFAULT_SLO_P99_MS = 100.0
"""p99 latency objective for one short review on one CPU (single requests take ~5 ms in-process)."""


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per function below, each adding its own arguments."""
    parser = argparse.ArgumentParser(prog="servingbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _bench_args(sub.add_parser("bench", help="benchmark one framework"))
    _compare_args(sub.add_parser("compare", help="benchmark several frameworks in turn and compare them"))
    _tune_args(sub.add_parser("tune", help="search configurations and earn the tuned preset by measurement"))
    _crosscheck_args(sub.add_parser("crosscheck", help="re-judge the newest SLO headline of a framework with "
                                    "MLPerf LoadGen (Server scenario) at that rate and 1.25x it"))
    _worker_args(sub.add_parser("loadgen-worker", help="on another machine: join every load step as workers"))
    _observability_args(sub.add_parser("observability", help="the cost of the framework's own metrics: "
                                       "one fixed load with them on and off (ABBA starts), p99 with "
                                       "intervals and CPU-ms/request"))
    sub.add_parser("list", help="list frameworks and their presets")
    _model_args(sub.add_parser("model", help="build the shared model if needed and print its folder"))
    report = sub.add_parser("report", help="write HTML reports from results/")
    report.add_argument("--results", type=Path, default=None)
    report.add_argument("--out", type=Path, default=None)
    return parser


def _bench_args(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--framework", required=True, help="one of: " + ", ".join(available()))
    bench.add_argument("--preset", default="default", help="default (framework defaults) or tuned")
    add_common(bench)
    bench.add_argument("--port", type=int, default=None, help="HTTP port of the server (default: free)")
    bench.add_argument("--target", default=os.environ.get("TARGET") or None,
                       help="benchmark an existing deployment at this base URL instead of launching one")
    bench.add_argument("--launch", choices=("local", "docker"), default=os.environ.get("LAUNCH") or "local",
                       help="local: a process group here; docker: the framework's image (needs a daemon)")
    bench.add_argument("--server-memory", default="2g", help="memory limit of the server in docker mode")
    bench.add_argument("--workers", type=int, default=None, help="override the preset's workers/replicas")
    bench.add_argument("--threads", type=int, default=None, help="override threads per worker")
    bench.add_argument("--max-batch-size", type=int, default=None)
    bench.add_argument("--max-batch-delay-ms", type=float, default=None)


def _compare_args(comp: argparse.ArgumentParser) -> None:
    comp.add_argument("--frameworks", default="all", help="comma-separated names, or all")
    comp.add_argument("--presets", default="default,tuned", help="comma-separated presets to run each in")
    add_common(comp)


def _tune_args(tune: argparse.ArgumentParser) -> None:
    tune.add_argument("--framework", required=True, help="one of: " + ", ".join(available()))
    tune.add_argument("--budget-min", type=float, default=12.0, help="time budget of the search, minutes")
    tune.add_argument("--slo-ms", type=float, default=DEFAULT_SLO_P99_MS, help="p99 latency objective")
    tune.add_argument("--server-cpus", default=None)
    tune.add_argument("--loadgen-cpus", default=None)
    tune.add_argument("--no-write", action="store_true", help="do not update frameworks/<name>/tuned.json")


def _crosscheck_args(xc: argparse.ArgumentParser) -> None:
    xc.add_argument("--framework", required=True, help="one of: " + ", ".join(available()))
    xc.add_argument("--preset", default="default", help="the preset of the run to check")
    xc.add_argument("--server-cpus", default=None, help="default: the run's server CPUs")
    xc.add_argument("--loadgen-cpus", default=None, help="default: the run's load generator CPUs")
    xc.add_argument("--port", type=int, default=None, help="HTTP port of the server (default: free)")
    xc.add_argument("--results", type=Path, default=None, help="results folder (default: results/)")
    xc.add_argument("--model", type=Path, default=os.environ.get("MODEL") or None)
    xc.add_argument("--duration-s", type=float, default=45.0, help="LoadGen's minimum duration per rate")
    xc.add_argument("--threads", type=int, default=16, help="client threads (one connection each)")
    xc.add_argument("--above", type=float, default=1.25, help="the rate factor LoadGen should call INVALID")


def _worker_args(worker: argparse.ArgumentParser) -> None:
    worker.add_argument("--master", required=True, help="host:port of the harness's LOADGEN_MASTER")
    worker.add_argument("--processes", type=int, default=1, help="worker processes on this machine")
    worker.add_argument("--cpus", default=None, help="CPU set for them (default: all)")


def _observability_args(obs: argparse.ArgumentParser) -> None:
    obs.add_argument("--framework", required=True, help="a framework that can switch its metrics off")
    obs.add_argument("--rate", type=float, default=20.0, help="Poisson arrival rate, req/s")
    obs.add_argument("--duration-s", type=float, default=20.0, help="measured seconds per start")
    obs.add_argument("--rounds", type=int, default=1, help="ABBA rounds (4 starts each)")
    obs.add_argument("--server-cpus", default=None)
    obs.add_argument("--loadgen-cpus", default=None)
    obs.add_argument("--results", type=Path, default=None)


def _model_args(model: argparse.ArgumentParser) -> None:
    model.add_argument("--hf-model", type=Path, default=None, help="export your own HF classifier folder")
    model.add_argument("--variant", default=os.environ.get("MODEL_VARIANT") or "fp32", help="fp32 or int8")


def resolve_model(path: Path | None, variant: str = "fp32") -> Path:
    """The model folder to serve: ``variant`` (fp32, int8) of the built default, a ready ONNX folder, or a
    Hugging Face folder; a variant other than fp32 is built from that folder once and cached."""
    from servingbench.envs.model_cache import check_variant, ensure_variant

    check_variant(variant)
    return ensure_variant(_resolve_fp32(path), variant)


def _resolve_fp32(path: Path | None) -> Path:
    from servingbench.envs.model_cache import ensure_model

    if path is None:
        return ensure_model()
    path = path.resolve()
    if (path / "model.onnx").is_file():
        missing = [n for n in ("tokenizer.json", "labels.json") if not (path / n).is_file()]
        if missing:
            raise ValueError(f"{path} has model.onnx but lacks {', '.join(missing)} "
                             "(see shared_model/README.md)")
        return path
    if (path / "config.json").is_file():
        return ensure_model(hf_model=path)  # exported once, cached by a hash of the folder
    raise ValueError(f"{path} is neither an ONNX model folder (model.onnx, tokenizer.json, labels.json) "
                     "nor a Hugging Face sequence-classification folder (config.json)")


def distribution(args: argparse.Namespace) -> Distribution:
    """The load generator's spread from the command line (LOADGEN_* in the Makefile)."""
    if args.loadgen_workers < 0 or args.loadgen_remote_workers < 0:
        raise ValueError("LOADGEN_WORKERS and LOADGEN_REMOTE_WORKERS must be >= 0")
    if args.loadgen_remote_workers and not args.loadgen_master:
        raise ValueError("remote load workers need LOADGEN_MASTER=host:port, an address they can reach")
    dist = Distribution(args.loadgen_workers, args.loadgen_remote_workers,
                        args.loadgen_master or "127.0.0.1:0")
    if dist.total < 1:
        raise ValueError("at least one load generator process is needed")
    dist.master_address()  # validates host:port
    return dist


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="standard", help="one of: " + ", ".join(PROFILES))
    parser.add_argument("--slo-ms", type=float, default=DEFAULT_SLO_P99_MS, help="p99 latency objective")
    parser.add_argument("--server-cpus", default=None, help="e.g. 0 or 0-1 (default: first half)")
    parser.add_argument("--loadgen-cpus", default=None, help="default: the CPUs the server does not use")
    parser.add_argument("--results", type=Path, default=None, help="results folder (default: results/)")
    parser.add_argument("--model", type=Path, default=os.environ.get("MODEL") or None,
                        help="serve your own model: an ONNX folder or a Hugging Face classifier folder")
    parser.add_argument("--model-variant", default=os.environ.get("MODEL_VARIANT") or "fp32",
                        help="fp32 (the export) or int8 (ONNX Runtime dynamic quantisation of it)")
    parser.add_argument("--no-report", action="store_true", help="do not write the HTML reports")
    parser.add_argument("--loadgen-workers", type=int, default=int(os.environ.get("LOADGEN_WORKERS") or 1),
                        help="Locust worker processes here (1: one process; N: a master and N workers)")
    parser.add_argument("--loadgen-remote-workers", type=int,
                        default=int(os.environ.get("LOADGEN_REMOTE_WORKERS") or 0),
                        help="Locust workers on other machines to wait for at every load step")
    parser.add_argument("--price-family", default=os.environ.get("PRICE_FAMILY") or None,
                        help="price the server on this instance family only (e.g. c7i, m7i, r7i; "
                             "default: the cheapest fitting instance of c7i, m7i, r7i)")
    parser.add_argument("--protocol", default=os.environ.get("PROTOCOL") or "rest", choices=PROTOCOLS,
                        help="the wire protocol of the parity gate and the load: the REST API, or "
                             "its gRPC inference API (only frameworks that serve one: see `make list`)")
    parser.add_argument("--loadgen-master", default=os.environ.get("LOADGEN_MASTER") or None,
                        help="host:port the Locust master binds for remote workers (e.g. 0.0.0.0:5557)")
    parser.add_argument("--scenario", default=os.environ.get("SCENARIO") or None,
                        help="comma-separated scenarios, or all (default: the profile's); one of: "
                             + ", ".join(scenario_names()))
    parser.add_argument("--trace", type=Path, default=os.environ.get("TRACE") or None,
                        help="SCENARIO=trace: arrival trace CSV (seconds since start[, text id or length])")
    parser.add_argument("--trace-speed", type=float, default=float(os.environ.get("TRACE_SPEED") or 1.0),
                        help="SCENARIO=trace: replay this many times faster")
    parser.add_argument("--rate-from", default=os.environ.get("RATE_FROM") or "newest",
                        help="overload/burst: the reference rate from the newest steady run in the same "
                             "setting (newest, default; none: steady runs first), this-run, or req/s")
    parser.add_argument("--scenario-time-scale", default=os.environ.get("SCENARIO_TIME_SCALE") or "1",
                        help="overload/burst: multiply their durations by this (below 1: quick look, tests)")


def scenario_choice(args: argparse.Namespace, profile: Profile) -> tuple[tuple[str, ...], ScenarioOptions]:
    """The scenarios asked for (or the profile's), checked; ValueError naming the valid ones."""
    rate_from, rate_rps = parse_rate_from(args.rate_from)
    names = parse_scenarios(args.scenario, profile.scenarios, insert_steady=rate_from == THIS_RUN)
    if args.trace_speed <= 0:
        raise ValueError(f"TRACE_SPEED must be > 0, got {args.trace_speed:g}")
    options = ScenarioOptions(trace=args.trace, trace_speed=args.trace_speed, rate_from=rate_from,
                              rate_rps=rate_rps, time_scale=parse_time_scale(args.scenario_time_scale))
    for name in names:  # each scenario's own input check (a malformed trace), before the model or a server
        if name != STEADY:
            get_scenario(name).check(options)
    return names, options


def cmd_compare(args: argparse.Namespace) -> int:
    from servingbench.compare import compare, summary_table
    from servingbench.run import BenchConfig

    try:
        names = available() if args.frameworks == "all" else [n.strip() for n in args.frameworks.split(",")]
        if args.frameworks == "all" and args.protocol == "grpc":
            names = grpc_frameworks()  # "all" over gRPC: every framework that serves it
        for name in names:
            check_protocol(load_adapter(name), args.protocol)
        presets = [p.strip() for p in args.presets.split(",") if p.strip()]
        profile = get_profile(args.profile)
        server_cpus, loadgen_cpus = split_cpus(args.server_cpus, args.loadgen_cpus)
        dist = distribution(args)
        validate_family(args.price_family)
        scenarios, scenario_options = scenario_choice(args, profile)
        check_variant(args.model_variant)
    except (UnknownFramework, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    minutes = len(names) * len(presets) * (profile.estimate_s() + 30) / 60
    print(f"servingbench compare: {', '.join(names)} x {', '.join(presets)}, profile {profile.name} "
          f"(~{minutes:.0f} min once environments exist)")
    try:
        model_dir = resolve_model(args.model, args.model_variant)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, loadgen_cpus)
    base = BenchConfig(framework="", preset="", profile=profile, slo_p99_ms=args.slo_ms,
                       server_cpus=server_cpus, loadgen_cpus=loadgen_cpus,
                       results_root=args.results or results_root(), distribution=dist,
                       price_family=args.price_family or "", scenarios=scenarios,
                       scenario_options=scenario_options, protocol=args.protocol,
                       model_variant=args.model_variant)
    runs = compare(names, presets, base, model_dir)
    print()
    print(summary_table(runs))
    if not args.no_report:
        from servingbench.report.pages import write_reports

        written = write_reports(base.results_root)
        print(f"\nreport: {written[-1]}")
    if any(r.status == "interrupted" for r in runs):
        return 130
    return 0 if all(r.status == "complete" for r in runs) else 1


def cmd_tune(args: argparse.Namespace) -> int:
    from servingbench.envs.model_cache import ensure_model
    from servingbench.run import BenchConfig
    from servingbench.tuning import TUNE_PROFILE, tune, write_tuned_preset

    try:
        adapter = load_adapter(args.framework)
        server_cpus, loadgen_cpus = split_cpus(args.server_cpus, args.loadgen_cpus)
    except (UnknownFramework, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model_dir = ensure_model()
    os.sched_setaffinity(0, loadgen_cpus)
    base = BenchConfig(framework=adapter.name, preset="default", profile=TUNE_PROFILE, slo_p99_ms=args.slo_ms,
                       server_cpus=server_cpus, loadgen_cpus=loadgen_cpus)
    result = tune(adapter, base, model_dir, args.budget_min * 60, results_root() / "tuning")
    rows = [[row.stage, str(row.tunables), row.status, f"{row.throughput_at_slo_rps or 0:.1f}",
             row.interval.describe() if row.interval else "-"] for row in result.table + result.final]
    print("\n" + text_table(("stage", "configuration", "status", "req/s@SLO", "interval"), rows))
    decision = result.decision
    print(f"{'kept' if decision.kept else 'not kept'}: {decision.reason}")
    if decision.why:
        print(f"  {decision.why}")
    if args.no_write:
        return 0
    written = write_tuned_preset(adapter, result)
    if written is None:
        print("no complete measurement of the defaults (or interrupted): the tuned preset is unchanged",
              file=sys.stderr)
        return 1
    what = "the challenger" if decision.kept else "the defaults, with the reason"
    print(f"tuned preset written to {written} ({what})")
    return 0


def _bench_banner(args: argparse.Namespace, name: str, profile: Profile, server_cpus: tuple[int, ...],
                  loadgen_cpus: tuple[int, ...]) -> str:
    """One line saying what is about to be measured, where, and roughly for how long."""
    where = f"target {args.target}" if args.target else f"server CPUs {format_cpus(server_cpus)}"
    spread = (f" ({args.loadgen_workers} Locust workers here, {args.loadgen_remote_workers} remote)"
              if args.loadgen_workers > 1 or args.loadgen_remote_workers else "")
    return (f"servingbench: {name}, preset {args.preset}, profile {profile.name} "
            f"(~{profile.estimate_s() / 60:.0f} min of load), SLO p99 <= {args.slo_ms:g} ms, {where}, "
            f"load generator CPUs {format_cpus(loadgen_cpus)}{spread}")


def _bench_config(args: argparse.Namespace, framework: str, profile: Profile, server_cpus: tuple[int, ...],
                  loadgen_cpus: tuple[int, ...], dist: Distribution) -> BenchConfig:
    from servingbench.run import BenchConfig

    scenarios, scenario_options = scenario_choice(args, profile)

    return BenchConfig(
        framework=framework, preset=args.preset, profile=profile, slo_p99_ms=args.slo_ms,
        server_cpus=server_cpus, loadgen_cpus=loadgen_cpus,
        overrides={"workers": args.workers, "threads_per_worker": args.threads,
                   "max_batch_size": args.max_batch_size, "max_batch_delay_ms": args.max_batch_delay_ms},
        http_port=args.port, results_root=args.results or results_root(), target=args.target,
        distribution=dist, launch=args.launch, server_memory=args.server_memory,
        price_family=args.price_family or "",
        scenarios=scenarios, scenario_options=scenario_options, protocol=args.protocol,
        model_variant=args.model_variant,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from servingbench.run import run_bench

    try:
        adapter = load_adapter(args.framework)
        check_protocol(adapter, args.protocol, "remote" if args.target else args.launch)
        profile = get_profile(args.profile)
        server_cpus, loadgen_cpus = split_cpus(args.server_cpus, args.loadgen_cpus)
        dist = distribution(args)
        validate_family(args.price_family)
        scenario_choice(args, profile)
        check_variant(args.model_variant)
        if args.launch == "docker":
            from servingbench.servers.docker import connect

            connect()  # fail before any work when no daemon answers
    except (UnknownFramework, ValueError, LaunchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_bench_banner(args, adapter.display_name, profile, server_cpus, loadgen_cpus))
    try:
        model_dir = resolve_model(args.model, args.model_variant)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, loadgen_cpus)  # the orchestrator and monitor stay off the server's CPUs
    config = _bench_config(args, adapter.name, profile, server_cpus, loadgen_cpus, dist)
    try:
        run_dir = run_bench(config, model_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from servingbench.record.results import load_run

    record = load_run(run_dir)
    if not args.no_report:
        from servingbench.report.pages import write_reports

        index = write_reports(config.results_root)[-1]
        print(f"report: {index.parent / 'runs' / (run_dir.name + '.html')} (all runs: {index})")
    print(f"result: {run_dir}")
    status = record.status if record else None
    if status == "interrupted":
        return 130
    return 0 if status == "complete" else 1


def cmd_crosscheck(args: argparse.Namespace) -> int:
    from servingbench.crosscheck.command import CrossCheckConfig, NoRun, cpus_of, newest_run, run_crosscheck
    from servingbench.servers.launch import LaunchOptions

    try:
        adapter = load_adapter(args.framework)
        run = newest_run(args.results or results_root(), adapter.name, args.preset)
        recorded = cpus_of(run)
        if args.server_cpus or args.loadgen_cpus or recorded is None:
            server_cpus, loadgen_cpus = split_cpus(args.server_cpus, args.loadgen_cpus)
        else:
            server_cpus, loadgen_cpus = recorded
        if args.duration_s <= 0 or args.threads < 1 or args.above <= 1:
            raise ValueError("--duration-s must be > 0, --threads >= 1 and --above > 1")
        model_dir = resolve_model(args.model, run.model.variant if run.model else "fp32")
    except (UnknownFramework, NoRun, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"servingbench crosscheck: {adapter.display_name}, run {run.run_id}, server CPUs "
          f"{format_cpus(server_cpus)}, load generator CPUs {format_cpus(loadgen_cpus)}")
    os.sched_setaffinity(0, loadgen_cpus)
    config = CrossCheckConfig(adapter.name, args.preset, args.results or results_root(), server_cpus,
                              loadgen_cpus, duration_s=args.duration_s, threads=args.threads,
                              above=args.above, launch=LaunchOptions(cpus=server_cpus, http_port=args.port))
    try:
        check = run_crosscheck(config, run, model_dir)
    except (KeyboardInterrupt, LaunchError, RuntimeError, OSError, ValueError) as exc:
        print(f"error: the cross-check stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0 if check.agree else 1


def cmd_observability(args: argparse.Namespace) -> int:
    from servingbench.envs.model_cache import ensure_model
    from servingbench.observability import check_framework, describe, measure

    try:
        check_framework(args.framework)
        server_cpus, loadgen_cpus = split_cpus(args.server_cpus, args.loadgen_cpus)
        if args.rate <= 0 or args.duration_s <= 0 or args.rounds < 1:
            raise ValueError("--rate and --duration-s must be > 0, --rounds >= 1")
    except (UnknownFramework, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.results or results_root()) / "observability" / f"{stamp}-{args.framework}"
    os.sched_setaffinity(0, loadgen_cpus)
    try:
        result = measure(args.framework, ensure_model(), out, cpus=(server_cpus, loadgen_cpus),
                         rate=args.rate, measure_s=args.duration_s, rounds=args.rounds)
    except (KeyboardInterrupt, LaunchError, RuntimeError, OSError) as exc:
        print(f"error: the experiment stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    print(describe(result))
    print(f"result: {out / 'observability.json'}")
    return 0


LIST_COLUMNS = ("framework", "server", "protocols", "preset", "workers", "threads", "max batch", "delay ms",
                "note")


def cmd_list() -> int:
    """Every framework with its presets: one row per preset, the framework named on its first row."""
    rows = []
    for name in available():
        adapter = load_adapter(name)
        about = [name, adapter.display_name, ", ".join(sorted(adapter.protocols))]
        for preset, chosen in presets_of(adapter).items():
            t = chosen.tunables
            rows.append([*about, preset, str(t.workers), str(t.threads_per_worker), str(t.max_batch_size),
                         f"{t.max_batch_delay_ms:g}", chosen.note])
            about = ["", "", ""]
    print(text_table(LIST_COLUMNS, rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from servingbench.report.pages import write_reports

    written = write_reports(args.results or results_root(), args.out)
    print(f"report: {written[-1]} ({len(written) - 1} run pages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "list":
        return cmd_list()
    if args.command == "model":
        from servingbench.envs import model_cache

        return model_cache.main((["--hf-model", str(args.hf_model)] if args.hf_model else [])
                                + ["--variant", args.variant])
    if args.command == "compare":
        return cmd_compare(args)
    if args.command == "tune":
        return cmd_tune(args)
    if args.command == "crosscheck":
        return cmd_crosscheck(args)
    if args.command == "observability":
        return cmd_observability(args)
    if args.command == "loadgen-worker":
        from servingbench.load.locust import serve_as_workers

        return serve_as_workers(args.master, args.processes, parse_cpus(args.cpus) if args.cpus else None)
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
