# syntax=docker/dockerfile:1
# m365-imapsync on the official imapsync image, with a pinned Node.js runtime and a pinned,
# checksum-verified oauth2c. Build and run commands: README "Quick start (Docker)";
# scripts/docker-smoke.sh checks an image against the local Microsoft 365 stand-in.
#
# Versions are build arguments, e.g.
#   docker build --build-arg IMAPSYNC_IMAGE=gilleslamiral/imapsync:2.319 \
#                --build-arg OAUTH2C_VERSION=1.19.0 -t m365-imapsync .
# Pin further by digest (IMAPSYNC_IMAGE=gilleslamiral/imapsync:2.319@sha256:...) once you have
# pulled and checked an image.
ARG IMAPSYNC_IMAGE=gilleslamiral/imapsync:2.319
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG FETCH_IMAGE=alpine:3.20

# ---- the tool: compiled, then production dependencies only
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev \
 && chmod 0755 dist/src/cli.js

# ---- oauth2c: the release tarball for this platform, verified against the release's checksums.txt
FROM ${FETCH_IMAGE} AS oauth2c
ARG OAUTH2C_VERSION=1.19.0
ARG OAUTH2C_REPO=cloudentity/oauth2c
ARG TARGETARCH
RUN set -eu; \
    case "${TARGETARCH:-amd64}" in \
      amd64) arch=x86_64 ;; \
      arm64) arch=arm64 ;; \
      arm) arch=arm ;; \
      *) echo "no oauth2c release for architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    tarball="oauth2c_${OAUTH2C_VERSION}_Linux_${arch}.tar.gz"; \
    base="https://github.com/${OAUTH2C_REPO}/releases/download/v${OAUTH2C_VERSION}"; \
    cd /tmp; \
    wget -q "${base}/${tarball}" "${base}/checksums.txt"; \
    grep "  ${tarball}\$" checksums.txt > expected.txt; \
    test -s expected.txt || { echo "${tarball} is not listed in checksums.txt" >&2; exit 1; }; \
    sha256sum -c expected.txt; \
    tar -xzf "${tarball}" oauth2c; \
    install -m 0755 oauth2c /usr/local/bin/oauth2c

# ---- the image: official imapsync + Node.js + oauth2c + the tool
FROM ${IMAPSYNC_IMAGE}
USER root
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=oauth2c /usr/local/bin/oauth2c /usr/local/bin/oauth2c
COPY --from=build /app/package.json /opt/m365-imapsync/package.json
COPY --from=build /app/node_modules /opt/m365-imapsync/node_modules
COPY --from=build /app/dist/src /opt/m365-imapsync/dist/src
# Node needs libstdc++; install it only if this imapsync image lacks it. Then prove every
# program starts, so that a broken combination fails the build, not the first migration.
RUN set -eu; \
    if ! node --version >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends libstdc++6 \
      && rm -rf /var/lib/apt/lists/*; \
    fi; \
    ln -s /opt/m365-imapsync/dist/src/cli.js /usr/local/bin/m365-imapsync; \
    node --version; \
    oauth2c --version; \
    imapsync --version; \
    m365-imapsync --help >/dev/null; \
    useradd --system --uid 10001 --user-group --home-dir /work --no-create-home migrator; \
    mkdir -p /work && chown migrator:migrator /work

# Inside a container the sign-in callback must listen on every interface for a published port
# (the redirect URI stays http://localhost:9876/callback).
ENV WORK_DIR=/work \
    CALLBACK_ADDR=0.0.0.0:9876 \
    IMAPSYNC_BIN=/usr/bin/imapsync \
    OAUTH2C_BIN=/usr/local/bin/oauth2c \
    HOME=/work
USER migrator
WORKDIR /work
VOLUME ["/work"]
EXPOSE 9876
# The tool ends on SIGTERM: imapsync runs are aborted, interrupted mailboxes marked, the report
# written, exit 143 (give it the compose file's stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["m365-imapsync"]
CMD ["--help"]
