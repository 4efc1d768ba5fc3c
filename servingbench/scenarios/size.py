"""SCENARIO=size: how latency and server CPU per request grow with the request's length.

The fixed load (profile.fixed_rate_rps, Poisson, the same arrival seed for every size) is sent once per
size with texts of about 8, 64, 128 and 256 tokens (scenarios/sizing.py: the corpus's sentences cut to a
token count by the model's own tokenizer). 128 is where the default predictor truncates (manifest.json
max_length; the encoder's position limit is 512, sentence-transformers' own default 256): a 256-token
text costs its transport and tokenisation in full but the encoder only 128 tokens, so the 128 and 256
points show what the cut saves.

Padding: the predictor (shared_model/predictor.py) pads each batch to its longest text, whatever the
framework; each step's texts are one size (within a word of the target), so a batch pads a token or two
at most here and the steps measure the cost of length itself. Mixed sizes in one batch would make a short
text pay for the longest one: a framework that batches more shows it more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from loadtests.corpus import request_texts
from servingbench.load.locust import write_requests
from servingbench.profiles import Profile
from servingbench.protocol import check_alive
from servingbench.scenarios.base import ScenarioContext, ScenarioOptions
from servingbench.scenarios.figures import scenario_open_step
from servingbench.scenarios.records import SizePoint, SizeResult
from servingbench.scenarios.sizing import TokenCounter, max_length, sized_texts, token_counter

NAME = "size"
SIZES = (8, 64, 128, 256)
"""Target token counts (the issue's ~8, 64, 256, and 128: the default model's truncation)."""
TEXTS_PER_SIZE = 32
SEED = 4242
"""One arrival seed for every size: the sizes see the same arrival times, only the texts differ."""
DURATIONS: dict[str, tuple[float, float]] = {
    "quick": (2.0, 5.0), "standard": (3.0, 20.0), "full": (5.0, 30.0)}
"""(warm-up, measured) seconds of each size's step by profile; another profile uses its fixed-load ones."""
LOCUST_OVERHEAD_S = 4.0
PADDING = ("the predictor pads each batch to its longest text (every framework: shared_model/predictor.py); "
           "each step's texts are one size, so padding adds at most a token or two per text here")


def durations(profile: Profile) -> tuple[float, float]:
    return DURATIONS.get(profile.name, (profile.open_warmup_s, profile.open_s))


@dataclass(frozen=True)
class SizeScenario:
    name: str = NAME
    question: str = "How do latency and CPU per request grow with the request's length (8 to 256 tokens)?"
    needs_slo_rate: bool = False
    restarts_server: bool = False

    def check(self, options: ScenarioOptions) -> None:
        """Nothing to check: the sizes and texts are fixed."""

    def estimate_s(self, profile: Profile, start_s: float, options: ScenarioOptions) -> float:
        warmup, measure = durations(profile)
        return len(SIZES) * (warmup + measure + LOCUST_OVERHEAD_S)

    def run(self, sc: ScenarioContext) -> SizeResult:
        began = time.monotonic()
        count = token_counter(sc.model_dir)
        limit = max_length(sc.model_dir)
        points = [_measure_size(sc, tokens, f"{i}/{len(SIZES)}", count, limit)
                  for i, tokens in enumerate(SIZES, 1)]
        return SizeResult(rate_rps=sc.profile.fixed_rate_rps, max_length=limit, points=points,
                          padding=PADDING, wall_s=round(time.monotonic() - began, 1))


def _measure_size(sc: ScenarioContext, tokens: int, which: str, count: TokenCounter, limit: int) -> SizePoint:
    """The fixed load with TEXTS_PER_SIZE texts of ``tokens`` tokens, its requests file beside its samples."""
    texts = sized_texts(request_texts(), tokens, TEXTS_PER_SIZE, count)
    counts = [t.tokens for t in texts]
    name = f"size_{tokens}"
    path = write_requests(sc.adapter, [t.text for t in texts], sc.out_dir(NAME) / f"{name}.requests.json")
    warmup, measure = durations(sc.profile)
    rate = sc.profile.fixed_rate_rps
    sc.progress(f"size {which}: {tokens} tokens ({min(counts)}-{max(counts)}), {rate:g} req/s Poisson, "
                f"{warmup:g} s + {measure:g} s measured")
    step = scenario_open_step(sc, NAME, name=name, rate_rps=rate, warmup_s=warmup, measure_s=measure,
                              seed=SEED, requests_file=path)
    check_alive(sc.ctx.server, f"the size scenario ({tokens} tokens)")
    cpu = step.cpu_ms_per_request
    sc.progress(f"  p50 {step.latency.p50_ms:.1f} ms, p99 {step.latency.p99_ms:.1f} ms, CPU "
                f"{'–' if cpu is None else f'{cpu:.2f}'} ms/request, errors {step.latency.errors}")
    return SizePoint(tokens=tokens, tokens_min=min(counts), tokens_max=max(counts),
                     tokens_model=min(max(counts), limit), texts=len(texts),
                     requests_file=path.relative_to(sc.folder).as_posix(), step=step)


SCENARIO = SizeScenario()
