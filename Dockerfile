# syntax=docker/dockerfile:1
#
# tracegate container image: a static binary on distroless, running as a
# non-root user. Build from the repository root:
#
#   docker build -t tracegate:local .
#
# The build context is trimmed by .dockerignore (checked, together with this
# file, by `go test ./deploy`).

# Build stage. The golang image sets GOTOOLCHAIN=local: if it is older than the
# go line of go.mod, the build stops with a clear message; pull a newer image
# (docker build --pull).
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY . .
# Only the modules this binary needs are downloaded (not the tool directives'),
# cached across builds.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/tracegate ./cmd/tracegate

# Final stage: no shell, no package manager; uid/gid 65532 ("nonroot").
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tracegate /tracegate
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# TRACEGATE_LISTEN_ADDR defaults to :8080.
EXPOSE 8080
# Probes /readyz on this host (port from TRACEGATE_ADMIN_LISTEN_ADDR when set,
# else TRACEGATE_LISTEN_ADDR); exit 0 on 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/tracegate", "healthcheck"]
ENTRYPOINT ["/tracegate"]
CMD ["serve"]
