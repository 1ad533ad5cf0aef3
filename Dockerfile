# syntax=docker/dockerfile:1
#
# The gooclaim-auth image: one static binary on distroless, running as a
# non-root user. Build from the repository root:
#
#   docker build -t gooclaim-auth:dev .
#   docker build -t gooclaim-auth:v1.2.3 --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse --short HEAD) .
#
# Multi-arch (the builder cross-compiles; no emulation needed):
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/gooclaim-auth:v1.2.3 --push .

# ---- build -------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26 AS build

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
# Printed by `gooclaim-auth version` and logged by `serve` at start.
ARG VERSION=dev
ARG COMMIT=

# Pure Go (SQLite is modernc.org/sqlite), so CGO_ENABLED=0 gives a static
# binary that needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /gooclaim-auth ./cmd/gooclaim-auth

# ---- run ---------------------------------------------------------------------
# distroless/static: CA certificates (for TLS to PostgreSQL and Redis), tzdata,
# /etc/passwd with the user nonroot (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /gooclaim-auth /gooclaim-auth

# nonroot, by number: Kubernetes' runAsNonRoot can check a numeric user but
# not a name.
USER 65532:65532

# The home directory of nonroot is writable, so that `docker run IMAGE` with
# the default SQLite database works for a quick try (the data is lost with the
# container). Production uses --database postgres://... and a read-only root
# file system; see deploy/README.md.
WORKDIR /home/nonroot

EXPOSE 8080

# No HEALTHCHECK: the image has no shell and no curl, and the binary has no
# probe subcommand. Orchestrators probe GET /healthz and GET /readyz over HTTP
# (deploy/kubernetes/deployment.yaml); the compose example relies on the load
# balancer's passive checks (deploy/compose/nginx.conf).

ENTRYPOINT ["/gooclaim-auth"]
CMD ["serve"]
