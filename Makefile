# Flowbatch. `make demo` builds bin/flow and runs the examples; `make test`
# runs every test with the race detector.
GO      ?= go
BIN     := bin/flow
PKGS    := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test lint demo bench clean tidy

all: lint test

build:
	$(GO) build -ldflags "-X main.buildVersion=$(VERSION)" -o $(BIN) ./cmd/flow

test:
	$(GO) test -race -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: build
	@for f in examples/hello/hello.flow.hcl; do \
		echo "== $$f"; ./$(BIN) exec $$f || exit $$?; \
	done

# Benchmarks arrive with the benchmark harness; until then, the Go
# micro-benchmarks.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
