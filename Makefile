# servingbench: the front door. Every target sets up what it needs on first use.
#   make bench FRAMEWORK=rayserve [PRESET=default|tuned] [PROFILE=quick|standard] [SLO=100]
#              [SERVER_CPUS=0] [LOADGEN_CPUS=1] [PORT=8000] [WORKERS=..] [MAX_BATCH_SIZE=..] [MAX_BATCH_DELAY_MS=..]
#              [SCENARIO=steady,overload,burst,coldstart,batch,size,trace|all] [TRACE=file.csv TRACE_SPEED=2]
#              [RATE_FROM=newest|this-run|<req/s>] [SCENARIO_TIME_SCALE=0.5]   (overload, burst)
#              [TARGET=http://host:port] [LOADGEN_WORKERS=N] [MODEL=path/to/your/model] [LAUNCH=docker] [PRICE_FAMILY=c7i|m7i|r7i]
#              [PROTOCOL=rest|grpc]   gRPC: mlserver, triton, torchserve (their gRPC inference APIs)
#              [MODEL_VARIANT=fp32|int8]   int8: ONNX Runtime's dynamic quantisation of the same model
#              [LOADGEN_MASTER=host:port LOADGEN_REMOTE_WORKERS=M]   (workers: make loadgen-worker MASTER=host:port)
#   make compare [FRAMEWORKS=a,b] [PRESETS=default,tuned] [PROFILE=...] [PROTOCOL=grpc]   every framework in turn
#   make tune FRAMEWORK=<name> [BUDGET_MIN=12]   earn the tuned preset by a configuration search
#   make crosscheck FRAMEWORK=<name> [PRESET=..] [DURATION_S=45]   the newest headline re-judged by MLPerf LoadGen
#   make observability FRAMEWORK=<name>   one fixed load with the framework's own metrics on and off
#   make test        the whole test suite (unit, model, real servers, end-to-end benches)
#   make report      HTML reports from results/
SHELL := /bin/bash
PYTHON ?= python3.11
FRAMEWORK ?=
PRESET ?= default
PROFILE ?= standard
SLO ?= 100
FRAMEWORKS ?= all
PRESETS ?= default,tuned
HARNESS_REQ := servingbench/requirements.txt
# The harness's own environment, created on first use and cached outside the work tree, with this checkout
# installed into it editable: $(SB) runs its `servingbench` console script.
HARNESS = $$($(PYTHON) -m servingbench.envs harness $(HARNESS_REQ) --project $(CURDIR))
SB = py=$(HARNESS) && "$$(dirname $$py)/servingbench"
opt = $(if $(2),$(1) $(2))

.PHONY: help bench compare tune crosscheck observability loadgen-worker list report model env test test-fast lint clean

help:
	@sed -n '2,15p' Makefile

bench:
	@if [ -z "$(FRAMEWORK)" ]; then echo "usage: make bench FRAMEWORK=<name>; frameworks: $$(ls frameworks | tr '\n' ' ')"; exit 2; fi
	@$(SB) bench --framework $(FRAMEWORK) --preset $(PRESET) \
		--profile $(PROFILE) --slo-ms $(SLO) $(call opt,--server-cpus,$(SERVER_CPUS)) \
		$(call opt,--loadgen-cpus,$(LOADGEN_CPUS)) $(call opt,--port,$(PORT)) $(call opt,--workers,$(WORKERS)) \
		$(call opt,--threads,$(THREADS)) $(call opt,--max-batch-size,$(MAX_BATCH_SIZE)) \
		$(call opt,--max-batch-delay-ms,$(MAX_BATCH_DELAY_MS)) $(call opt,--target,$(TARGET)) \
		$(call opt,--loadgen-workers,$(LOADGEN_WORKERS)) $(call opt,--model,$(MODEL)) \
		$(call opt,--launch,$(LAUNCH)) $(call opt,--price-family,$(PRICE_FAMILY)) \
		$(call opt,--scenario,$(SCENARIO)) $(call opt,--trace,$(TRACE)) $(call opt,--trace-speed,$(TRACE_SPEED)) \
		$(call opt,--protocol,$(PROTOCOL)) $(call opt,--model-variant,$(MODEL_VARIANT)) \
		$(call opt,--rate-from,$(RATE_FROM)) $(call opt,--scenario-time-scale,$(SCENARIO_TIME_SCALE))

compare:
	@$(SB) compare --frameworks $(FRAMEWORKS) \
		--presets $(PRESETS) --profile $(PROFILE) --slo-ms $(SLO) \
		$(call opt,--server-cpus,$(SERVER_CPUS)) $(call opt,--loadgen-cpus,$(LOADGEN_CPUS)) \
		$(call opt,--loadgen-workers,$(LOADGEN_WORKERS)) $(call opt,--price-family,$(PRICE_FAMILY)) \
		$(call opt,--scenario,$(SCENARIO)) $(call opt,--trace,$(TRACE)) $(call opt,--trace-speed,$(TRACE_SPEED)) \
		$(call opt,--protocol,$(PROTOCOL)) \
		$(call opt,--model,$(MODEL)) $(call opt,--model-variant,$(MODEL_VARIANT)) \
		$(call opt,--rate-from,$(RATE_FROM)) $(call opt,--scenario-time-scale,$(SCENARIO_TIME_SCALE))

tune:
	@if [ -z "$(FRAMEWORK)" ]; then echo "usage: make tune FRAMEWORK=<name> [BUDGET_MIN=12]"; exit 2; fi
	@$(SB) tune --framework $(FRAMEWORK) --budget-min $(or $(BUDGET_MIN),12) \
		--slo-ms $(SLO) $(call opt,--server-cpus,$(SERVER_CPUS)) $(call opt,--loadgen-cpus,$(LOADGEN_CPUS))

crosscheck:
	@if [ -z "$(FRAMEWORK)" ]; then echo "usage: make crosscheck FRAMEWORK=<name> [PRESET=default|tuned] [DURATION_S=45] (after make bench)"; exit 2; fi
	@$(SB) crosscheck --framework $(FRAMEWORK) --preset $(PRESET) $(call opt,--duration-s,$(DURATION_S)) \
		$(call opt,--server-cpus,$(SERVER_CPUS)) $(call opt,--loadgen-cpus,$(LOADGEN_CPUS)) \
		$(call opt,--port,$(PORT)) $(call opt,--model,$(MODEL))

observability:
	@if [ -z "$(FRAMEWORK)" ]; then echo "usage: make observability FRAMEWORK=<name> [RATE=20] [DURATION_S=20] [ROUNDS=1]"; exit 2; fi
	@$(SB) observability --framework $(FRAMEWORK) $(call opt,--rate,$(RATE)) \
		$(call opt,--duration-s,$(DURATION_S)) $(call opt,--rounds,$(ROUNDS)) \
		$(call opt,--server-cpus,$(SERVER_CPUS)) $(call opt,--loadgen-cpus,$(LOADGEN_CPUS))

loadgen-worker:
	@if [ -z "$(MASTER)" ]; then echo "usage: make loadgen-worker MASTER=<harness host>:<port> [PROCESSES=1]"; exit 2; fi
	@$(SB) loadgen-worker --master $(MASTER) --processes $(or $(PROCESSES),1)

list:
	@$(SB) list

report:
	@$(SB) report

model:
	@$(SB) model $(call opt,--variant,$(MODEL_VARIANT))

env:
	@py=$(HARNESS) && echo "harness environment: $$py"

test:
	@bash scripts/install-system-deps.sh
	@$(SB) model >/dev/null && $$py -m ruff check . && \
		$$py -m pytest -v --durations=15 $(PYTEST_ARGS)

test-fast:
	@py=$(HARNESS) && $$py -m pytest -m "not slow" $(PYTEST_ARGS)

lint:
	@py=$(HARNESS) && $$py -m ruff check .

clean:
	rm -rf results reports .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "cached environments and models stay in $${SERVINGBENCH_CACHE:-$$HOME/.cache/servingbench} (rm -rf it to start over)"
