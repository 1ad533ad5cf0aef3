# syntax=docker/dockerfile:1
#
# The gooclaim-auth image: one static binary on distroless, running as a
# non-root user, with its SQLite database and key-encryption key in /data.
# Build from the repository root (`make image` passes the stamp for you):
#
#   docker build -t gooclaim-auth:dev .
#   docker build -t gooclaim-auth:v1.2.3 \
#     --build-arg VERSION=v1.2.3 \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(TZ=UTC0 git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) .
#
# Multi-arch (the builder cross-compiles; no emulation needed):
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/gooclaim-auth:v1.2.3 --push .
#
# The binary is built by scripts/build, the same script as `make build`, with
# the Go version go.mod names: with the same VERSION, COMMIT and DATE it is
# byte-identical to a local `make build` (scripts/dockerfile-check checks it).

# ---- build -------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build

WORKDIR /src

# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .

# Set by `docker buildx build --platform ...`; empty with a plain `docker build`,
# in which case Go builds for the machine it runs on.
ARG TARGETOS
ARG TARGETARCH
# Printed by `gooclaim-auth version`; empty: dev and unknown.
ARG VERSION=
ARG COMMIT=
ARG DATE=

# Static (CGO_ENABLED=0: SQLite is modernc.org/sqlite, pure Go), stripped,
# -trimpath, stamped: see scripts/build.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH scripts/build -o bin/gooclaim-auth

# The data directory, owned by nonroot, mode 0700: a named volume mounted on
# /data starts with this owner and mode.
RUN mkdir -m 0700 /data

# ---- run ---------------------------------------------------------------------
# distroless/static: CA certificates (for TLS to PostgreSQL and Redis), tzdata,
# /etc/passwd with the user nonroot (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /src/bin/gooclaim-auth /gooclaim-auth
COPY --from=build --chown=65532:65532 /data /data

# nonroot, by number: Kubernetes' runAsNonRoot can check a numeric user but
# not a name.
USER 65532:65532

# The SQLite database, and beside it the key-encryption key (gooclaim-auth.kek,
# created on first start), live in the volume. A fleet sets
# GOOCLAIM_DATABASE=postgres://... and GOOCLAIM_KEY_ENCRYPTION_KEY_FILE and
# needs no volume (docs/operations.md, "The image").
ENV GOOCLAIM_DATABASE=/data/gooclaim-auth.db \
    GOOCLAIM_LISTEN=:8080 \
    GOOCLAIM_OPS_LISTEN=:9090
VOLUME /data
WORKDIR /data

# 8080: the token endpoint, JWKS, discovery. 9090: the ops listener
# (/metrics, /healthz, /readyz).
EXPOSE 8080 9090

# No curl in distroless: the binary probes itself. Default URL: the ops
# listener's /healthz (http://127.0.0.1:9090/healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/gooclaim-auth", "healthcheck"]

ENTRYPOINT ["/gooclaim-auth"]
CMD ["serve"]
