# podium: one image for every subcommand (broker, orchestrator, worker NAME, api, topics,
# order, healthcheck). A static binary in an empty image: no shell, no package manager,
# only the CA certificates, a passwd entry for the non-root user 65532 and a data directory.
#
# Two ways to build the same image:
#
#   With registry access (multi-stage; compiles in the official Go image; any builder):
#     docker build -t podium:latest .
#
#   Offline (what `make images`, CI and the testcontainers suite use; nothing is pulled):
#     make images            # = scripts/build-image.sh podium:latest
#   The script builds the binary on the host with `go build`, lays out the same /rootfs and
#   /data as the build stage below, and builds this file's final stage (from its last FROM,
#   with `COPY --from=build` turned into a plain COPY) with that directory as the context.
#   Keep the final stage self-contained: it is the offline route's whole Dockerfile.

ARG GO_VERSION=1.26

# build: compile a static binary and lay out the image's root filesystem in /rootfs.
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /rootfs/usr/local/bin/podium ./cmd/podium \
    && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /data \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && printf 'root:x:0:0:root:/root:/sbin/nologin\npodium:x:65532:65532:podium:/data:/sbin/nologin\n' > /rootfs/etc/passwd \
    && printf 'root:x:0:\npodium:x:65532:\n' > /rootfs/etc/group \
    && chmod 1777 /rootfs/tmp

# The image.
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="podium" \
      org.opencontainers.image.description="Kafka-native saga orchestrator: every podium subcommand" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /data/ /data/
ENV PATH=/usr/local/bin
USER 65532:65532
WORKDIR /data
# 9092: podium broker, 8080: podium api, 9090: --metrics-addr of orchestrators and workers.
EXPOSE 9092 8080 9090
ENTRYPOINT ["podium"]
CMD ["--help"]
