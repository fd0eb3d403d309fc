#!/usr/bin/env bash
# Build the podium image without pulling anything: compile a static binary with the host's
# Go toolchain, lay out the root filesystem the Dockerfile's build stage would make (/rootfs
# and /data), and build the Dockerfile's final stage (FROM scratch) with that directory as
# the build context: the same instructions, with `COPY --from=build` read from the context.
#
#   scripts/build-image.sh [TAG...]        default tag: podium:latest
#
# Environment: VERSION (stamped into the binary and the image label; default: git describe),
# GOARCH (default: the host's), OUT (work directory; default: bin/image), GO (default: go).
set -euo pipefail
cd "$(dirname "$0")/.."

tags=("$@")
[ ${#tags[@]} -gt 0 ] || tags=(podium:latest)
GO=${GO:-go}
OUT=${OUT:-bin/image}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}

# The host's CA bundle (Debian/Ubuntu/Alpine, Fedora/RHEL, macOS/BSD).
ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -s "$f" ]; then ca=$f; break; fi
done
if [ -z "$ca" ]; then
  echo "build-image: no CA bundle found on this host (install ca-certificates)" >&2
  exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/rootfs/usr/local/bin" "$OUT/rootfs/etc/ssl/certs" "$OUT/rootfs/tmp" "$OUT/data"
printf 'Dockerfile\n' >"$OUT/.dockerignore"
chmod 1777 "$OUT/rootfs/tmp"

CGO_ENABLED=0 GOOS=linux "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
  -o "$OUT/rootfs/usr/local/bin/podium" ./cmd/podium
cp "$ca" "$OUT/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\npodium:x:65532:65532:podium:/data:/sbin/nologin\n' >"$OUT/rootfs/etc/passwd"
printf 'root:x:0:\npodium:x:65532:\n' >"$OUT/rootfs/etc/group"
# Files are copied as root-owned and world-readable; only /data belongs to the user.
chmod -R a+rX,go-w "$OUT/rootfs"
chmod 1777 "$OUT/rootfs/tmp"

# The Dockerfile's final stage, from its last FROM, reading the build stage's output from
# the context instead.
awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' Dockerfile |
  sed 's/^COPY --from=build /COPY /' >"$OUT/Dockerfile"
if ! head -1 "$OUT/Dockerfile" | grep -q '^FROM scratch' || grep -q -- '--from=' "$OUT/Dockerfile"; then
  echo "build-image: the Dockerfile's final stage must be FROM scratch and copy only from the build stage" >&2
  exit 1
fi

tagargs=() previous=()
for t in "${tags[@]}"; do
  tagargs+=(-t "$t")
  previous+=("$(docker image inspect -f '{{.Id}}' "$t" 2>/dev/null || true)")
done
# DOCKER_BUILDKIT=0 by default: the legacy builder is in every engine, while BuildKit needs the
# buildx plugin on Docker CLIs >= 23; this build needs nothing BuildKit adds. The legacy
# builder's deprecation notice is only shown when the build fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build --quiet --build-arg "VERSION=$VERSION" \
  -f "$OUT/Dockerfile" "${tagargs[@]}" "$OUT" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# Drop the images these tags pointed to before, once no tag refers to them (a container
# still using one keeps it).
built=$(docker image inspect -f '{{.Id}}' "${tags[0]}")
for id in "${previous[@]}"; do
  if [ -n "$id" ] && [ "$id" != "$built" ] &&
    [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ]; then
    docker rmi "$id" >/dev/null 2>&1 || true
  fi
done
echo "built ${tags[*]} ($VERSION, $(du -h "$OUT/rootfs/usr/local/bin/podium" | cut -f1) binary)"
