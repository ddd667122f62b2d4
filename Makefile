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

# The benchmark harness (bench/, docs/performance.md): the batch engine
# against a hand-written Go baseline in one run, medians of interleaved
# runs, ratios and PASS/MISS against the targets. make bench takes up to
# ~15 minutes and writes bin/bench.json; make bench-quick about a minute.
# BENCH_FLAGS adds flags (-only 1,2 -cpuprofile DIR ...; go run ./bench -h).
BENCH_FLAGS ?=
.PHONY: bench-quick

bench:
	@mkdir -p bin
	$(GO) run ./bench -out bin/bench.json $(BENCH_FLAGS)

bench-quick:
	$(GO) run ./bench -quick $(BENCH_FLAGS)

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
# Kills per scenario of the JavaScript processor's and of the fixed-width
# file into SQLite (make test: 4).
CHAOS_JS_KILLS ?= 50
CHAOS_FIXED_KILLS ?= 50

.PHONY: chaos chaos-soak

chaos:
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 30m \
		-chaos.runs=$(CHAOS_RUNS) -chaos.seed=$(CHAOS_SEED)
	$(GO) test ./internal/chaos -run 'TestBatchChaos$$' -count=1 -v -timeout 30m \
		-chaos.batch.kills=$(CHAOS_BATCH_KILLS) -chaos.seed=$(CHAOS_SEED)
	$(GO) test ./internal/chaos -run 'TestJSBatchChaos$$' -count=1 -v -timeout 30m \
		-chaos.js.kills=$(CHAOS_JS_KILLS) -chaos.seed=$(CHAOS_SEED)
	$(GO) test ./internal/chaos -run 'TestFixedSQLChaos$$' -count=1 -v -timeout 30m \
		-chaos.fixed.kills=$(CHAOS_FIXED_KILLS) -chaos.seed=$(CHAOS_SEED)

# A longer soak: steps of 2ms (kills land in the store's commits more
# often) and of 50ms (in the steps' effects).
chaos-soak:
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 3h -chaos.runs=1000 -chaos.delay=2ms
	$(GO) test ./internal/chaos -run 'TestChaos$$' -count=1 -v -timeout 3h -chaos.runs=1000 -chaos.delay=50ms

# Fuzzing: every Fuzz function of the tree, one after the other (go test
# runs one fuzz target at a time), each for FUZZTIME. make test runs their
# seed corpora (f.Add and testdata/fuzz/NAME) as ordinary tests; an input
# that fails is written to testdata/fuzz/NAME of its package: keep it
# there as a regression test.
FUZZTIME ?= 30s

.PHONY: fuzz

fuzz:
	@set -e; \
	for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		pkg=$$(dirname $$file); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME); \
		done; \
	done
