# Flowbatch. `make demo` builds bin/flow and runs the examples; `make test`
# runs every test with the race detector.
GO      ?= go
BIN     := bin/flow
PKGS    := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test lint demo bench clean tidy

all: lint test

build:
	$(GO) build -ldflags "-X github.com/flowbatch/flow/cli.buildVersion=$(VERSION)" -o $(BIN) ./cmd/flow

test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Runs every example through bin/flow, stopping at the first failure. The
# runs are recorded in bin/demo.db; --rerun lets make demo run again.
demo: build
	@set -e; \
	run() { echo; echo "== flow exec $$*"; ./$(BIN) exec --store bin/demo.db --rerun "$$@"; }; \
	run examples/hello/hello.flow.hcl -p name=Flowbatch; \
	run examples/retry/retry.flow.hcl -p failures=2; \
	run examples/fanout/fanout.flow.hcl -p max_lines=20; \
	run examples/batch/batch.flow.hcl; \
	run examples/bankfile/bankfile.flow.hcl; \
	run examples/settlement/settlement.flow.hcl; \
	run examples/poll/poll.flow.hcl -p delay=200ms -p interval=50ms

# Benchmarks arrive with the benchmark harness; until then, the Go
# micro-benchmarks.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin

# Chaos: kill -9 the flow binary at random points of a flow of loops, forks
# and parallel branches, resume until it completes, and check every step's
# effect (internal/chaos). make test sends 20 kills; make chaos many more.
# CHAOS_SEED reproduces the delays of a failed run (the test prints it).
CHAOS_RUNS ?= 200
CHAOS_SEED ?= 0
# Kills per scenario of the batch step's kill -9 test (make test: 8).
CHAOS_BATCH_KILLS ?= 100

.PHONY: chaos chaos-soak

chaos:
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 30m \
		-chaos.runs=$(CHAOS_RUNS) -chaos.seed=$(CHAOS_SEED)
	$(GO) test ./internal/chaos -run 'TestBatchChaos$$' -count=1 -v -timeout 30m \
		-chaos.batch.kills=$(CHAOS_BATCH_KILLS) -chaos.seed=$(CHAOS_SEED)

# A longer soak: steps of 2ms (kills land in the store's commits more
# often) and of 50ms (in the steps' effects).
chaos-soak:
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 3h -chaos.runs=1000 -chaos.delay=2ms
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 3h -chaos.runs=1000 -chaos.delay=50ms
