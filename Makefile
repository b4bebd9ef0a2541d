# The commands the README gives. `make deps` installs what the tests need on
# a fresh Debian machine; `make test` is exactly what CI runs.
export STRATA_TEST_POSTGRES ?=

.PHONY: deps install test test-short bench bench-deps bench-check bench-baseline lint generate check-generated

# clang-14 + wasi-libc build the C command guests (examples/command-guest,
# the runtime's CGI test guest); wrk drives the HTTP benchmarks; curl, file,
# openssl and python3 are what the READMEs' commands use (e2e/readme_test.go
# runs them); chromium drives the console's browser tests (chromedp),
# prometheus scrapes /metrics in the metrics end-to-end test, and haproxy
# balances the cluster end-to-end test's nodes.
deps:
	@if ! command -v clang-14 >/dev/null || ! command -v wrk >/dev/null || ! command -v file >/dev/null || ! command -v openssl >/dev/null || ! command -v python3 >/dev/null || ! command -v curl >/dev/null || ! command -v chromium >/dev/null || ! command -v prometheus >/dev/null || ! command -v haproxy >/dev/null || ! command -v bwrap >/dev/null || [ ! -d /usr/lib/wasm32-wasi ] || [ ! -d /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 wrk file openssl python3 curl chromium prometheus haproxy bubblewrap; \
	fi
	go mod download

install:
	go install ./cmd/strata

# Unit tests, the store conformance suite (on PostgreSQL too when
# STRATA_TEST_POSTGRES is set) and end-to-end tests with the real binary.
test: lint check-generated
	go test -race -count=1 -timeout 20m $(RACE_PKGS)
	go test -count=1 -timeout 30m ./...

# The packages with concurrent machinery run under the race detector too.
# The runtime, server and end-to-end suites compile multi-MB Wasm modules,
# which the race detector slows several-fold; they run once, without it.
RACE_PKGS = ./internal/store/... ./internal/events/... ./internal/gateway/... ./internal/pool/... \
	./internal/invoke/... ./internal/registry/... ./internal/meter/... ./internal/trace/... ./internal/host/... ./internal/bindings/... ./internal/flow ./internal/batch ./internal/deploy/... ./internal/manifest/... \
	./internal/route/... ./internal/schedule/... ./internal/config/... ./internal/console/... ./internal/sockets/... ./internal/objects/... ./internal/asl/... ./sdk/...

# gofmt, go vet and staticcheck (default checks; pinned version).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

test-short:
	go test -short ./...

bench:
	go run ./bench

# Continuous benchmarking: a short run of the hot-path scenarios whose
# same-run ratios (Strata against its peers, in-process latencies against a
# calibration) are compared with the committed bench/baseline.json; a figure
# worse than the baseline by more than the file's noise band fails
# (docs/benchmarks.md, "bench-check"). CI runs it after make test.
BENCH_SHORT = -only warm,cold,handle,memory,queue,workflow -duration 3s -warmup 1s \
	-cold-samples 100 -command-samples 1000 -handle-samples 10000 -instances 200 \
	-queue-messages 20000 -workflows 500 -workflow-lone 200 -workflow-steps 300 -workflow-peers dbos

# workerd, the warm scenario's second peer, comes from npm.
bench-deps:
	@test -x bench/peers/workerd/node_modules/.bin/workerd || bash bench/peers/workerd/install.sh

bench-check: bench-deps
	go run ./bench $(BENCH_SHORT) -check bench/baseline.json

# Records this machine's figures as the new baseline (commit the file).
bench-baseline: bench-deps
	go run ./bench $(BENCH_SHORT) -write-baseline bench/baseline.json

# sqlc turns each store backend's queries/*.sql into typed Go
# (internal/store/sqlc.yaml). Its version is pinned in tools/go.mod, a module
# of its own so sqlc's dependencies stay out of ours; the binary is built once
# into .cache/ (a minute or two cold, cgo; then reused until tools/go.mod
# changes).
SQLC := $(CURDIR)/.cache/bin/sqlc-$(shell sed -n 's|^require github.com/sqlc-dev/sqlc ||p' tools/go.mod)

$(SQLC): tools/go.mod tools/go.sum
	cd tools && go build -o $(SQLC) github.com/sqlc-dev/sqlc/cmd/sqlc

generate: $(SQLC)
	$(SQLC) generate -f internal/store/sqlc.yaml

# Fails when the committed generated code is not what the queries and
# migrations generate (someone edited a .sql file and not regenerated).
check-generated: $(SQLC)
	@$(SQLC) diff -f internal/store/sqlc.yaml || { echo "generated store code is out of date: run make generate"; exit 1; }
