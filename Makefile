# Gooclaim Auth. `make help` lists the targets.
#
#   make build                       bin/gooclaim-auth: static, stamped, reproducible
#   make build VERSION=v1.2.3        ... with another version (also COMMIT=, DATE=)
#   make test                        go test ./... with the PostgreSQL and Redis backends
#   make bench COUNT=6 > new.txt     benchmarks, for benchstat
#   make lint                        gofmt, go vet and staticcheck, as CI runs them
#   make fuzz FUZZTIME=1m            every fuzz target for FUZZTIME (default 30s) each
#
# Every build goes through scripts/build, which the Dockerfile runs too.

GO ?= go
BIN ?= bin/gooclaim-auth
IMAGE ?= gooclaim-auth:local
PKG ?= ./...
BENCH ?= .
COUNT ?= 1
FUZZTIME ?= 30s

# The backend tests' servers, as in .ci/run; override to point elsewhere.
GOOCLAIM_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
GOOCLAIM_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export GOOCLAIM_TEST_POSTGRES_URL GOOCLAIM_TEST_REDIS_URL

.PHONY: help build test bench fuzz lint staticcheck reproducible dockerfile-check check image clean

help:
	@sed -n 's/^#   make/make/p' Makefile
	@echo "make reproducible                build twice in two directories, compare sha256"
	@echo "make dockerfile-check            run the Dockerfile's build step here and check the binary"
	@echo "make check                       lint, test, reproducible, dockerfile-check (what CI runs)"
	@echo "make staticcheck                 staticcheck alone, at the version pinned in scripts/staticcheck"
	@echo "make image                       docker build with the stamp (needs a Docker engine)"
	@echo "make clean                       remove bin/"

build:
	scripts/build -o $(BIN)

test:
	scripts/services
	$(GO) test $(PKG)

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(PKG)

# Not part of check or CI: go test replays the seeds in testdata/fuzz.
fuzz:
	scripts/fuzz $(FUZZTIME)

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:" $$unformatted >&2; exit 1; fi
	$(GO) vet ./...
	scripts/staticcheck

staticcheck:
	scripts/staticcheck

reproducible:
	scripts/reproducible

dockerfile-check:
	scripts/dockerfile-check

check: lint test reproducible dockerfile-check

image:
	eval "$$(scripts/build --print-stamp)" && \
	docker build --build-arg VERSION="$$VERSION" --build-arg COMMIT="$$COMMIT" --build-arg DATE="$$DATE" -t $(IMAGE) .

clean:
	rm -rf bin
