# m365-imapsync on the official imapsync image, with a pinned Node.js runtime and a pinned,
# checksum-verified oauth2c. Build and run commands: README "Docker".
# No `# syntax=` line: the classic builder and BuildKit's built-in frontend both read this file,
# and that line would make BuildKit fetch a frontend image from a registry.
#
# Build arguments (all optional):
#   IMAPSYNC_IMAGE, NODE_IMAGE  the base images (pin by digest once you have pulled and checked one)
#   OAUTH2C_VERSION             oauth2c release (its checksums.txt is always checked)
#   OAUTH2C_BASE_URL            where releases are downloaded from: <base>/v<version>/<file> (a mirror)
#   NPM_REGISTRY                npm registry for the build stage (a mirror)
#   TARGETARCH                  amd64, arm64 or arm; BuildKit sets it, otherwise it is derived
# Files in the build context: vendor/oauth2c/ (release tarball + checksums.txt: no download),
# vendor/ca/*.pem|*.crt (extra CA certificates for npm and the download). See vendor/README.md.
ARG IMAPSYNC_IMAGE=gilleslamiral/imapsync:2.319
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- the dependencies, development ones included: the tool's build and the demo's stand-in use
# them. The registry and CA are used here and nowhere in the final image (its history shows only
# the final stage).
FROM ${NODE_IMAGE} AS deps
ARG NPM_REGISTRY=
WORKDIR /app
COPY vendor/ca/ /tmp/ca/
COPY package.json package-lock.json ./
RUN set -eu; \
    if [ -n "${NPM_REGISTRY}" ]; then export npm_config_registry="${NPM_REGISTRY}"; fi; \
    for f in /tmp/ca/*.pem /tmp/ca/*.crt; do if [ -f "$f" ]; then cat "$f"; fi; done >/tmp/extra-ca.pem; \
    if [ -s /tmp/extra-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; \
    npm ci --no-audit --no-fund; \
    rm -rf /tmp/ca /tmp/extra-ca.pem /root/.npm
COPY tsconfig.json ./

# ---- the tool: only src/ is compiled, then production dependencies only.
FROM deps AS build
COPY tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev \
 && chmod 0755 dist/src/cli.js

# ---- the demo's Microsoft 365 stand-in (README, first command; docker-compose.yml, service
# "standin"): scripts/standin and Dovecot, in an image of its own, never in the tool's image
# below. Its steps run only with DEMO_STANDIN=1 (set by compose with target "standin"): the classic
# builder builds every stage before the last one, and the tool's build must not need a Debian
# mirror for Dovecot.
FROM deps AS standin
ARG DEMO_STANDIN=
COPY tsconfig.standin.json ./
COPY scripts/standin ./scripts/standin
RUN set -eu; \
    if [ "${DEMO_STANDIN}" != 1 ]; then echo "demo stand-in: skipped (DEMO_STANDIN=1 builds it)"; exit 0; fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends dovecot-imapd; \
    rm -rf /var/lib/apt/lists/*; \
    npx tsc -p tsconfig.standin.json; \
    install -d -m 0755 /standin
ENV STANDIN_DIR=/standin
# The state is made anew at each start (mail seeded again): what a stopped container left in the
# volume (pidfiles of another container's Dovecot) must not be taken for this one's.
CMD ["sh", "-c", "rm -rf /standin/* && exec node dist/scripts/standin/main.js serve"]

# ---- oauth2c: the release tarball for this platform, from vendor/oauth2c/ when it is there,
# else downloaded with Node's fetch; either way checked against the release's checksums.txt.
FROM ${NODE_IMAGE} AS oauth2c
ARG OAUTH2C_VERSION=1.19.0
ARG OAUTH2C_BASE_URL=https://github.com/cloudentity/oauth2c/releases/download
ARG TARGETARCH
COPY vendor/ca/ /tmp/ca/
COPY vendor/oauth2c/ /tmp/vendor/
WORKDIR /tmp/oauth2c
RUN set -eu; \
    fail() { echo "oauth2c: $*" >&2; exit 1; }; \
    arch="${TARGETARCH:-}"; \
    if [ -z "$arch" ]; then \
      machine="$(uname -m)"; \
      case "$machine" in \
        x86_64) arch=amd64 ;; \
        aarch64|arm64) arch=arm64 ;; \
        armv6l|armv7l) arch=arm ;; \
        *) fail "TARGETARCH is unset and this machine is $machine, which has no oauth2c release; pass --build-arg TARGETARCH=amd64, arm64 or arm" ;; \
      esac; \
      echo "TARGETARCH is unset (classic builder): building for $arch, from uname -m ($machine)"; \
    fi; \
    case "$arch" in \
      amd64) asset=x86_64 ;; \
      arm64) asset=arm64 ;; \
      arm) asset=arm ;; \
      *) fail "no oauth2c release for architecture $arch (TARGETARCH); use amd64, arm64 or arm" ;; \
    esac; \
    tarball="oauth2c_${OAUTH2C_VERSION}_Linux_${asset}.tar.gz"; \
    if [ -f "/tmp/vendor/$tarball" ]; then \
      [ -f /tmp/vendor/checksums.txt ] || fail "vendor/oauth2c/$tarball is there but not the release's checksums.txt; put both in vendor/oauth2c/"; \
      echo "oauth2c: using vendor/oauth2c/$tarball"; \
      cp "/tmp/vendor/$tarball" /tmp/vendor/checksums.txt .; \
    else \
      for f in /tmp/ca/*.pem /tmp/ca/*.crt; do if [ -f "$f" ]; then cat "$f"; fi; done >/tmp/extra-ca.pem; \
      if [ -s /tmp/extra-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; \
      url="${OAUTH2C_BASE_URL%/}/v${OAUTH2C_VERSION}"; \
      echo "oauth2c: downloading $tarball and checksums.txt from $url"; \
      node -e ' \
        const [base, ...files] = process.argv.slice(1); \
        (async () => { \
          for (const file of files) { \
            const response = await fetch(`${base}/${file}`, { signal: AbortSignal.timeout(300000) }); \
            if (!response.ok) throw new Error(`${base}/${file} answered HTTP ${response.status}`); \
            require("node:fs").writeFileSync(file, Buffer.from(await response.arrayBuffer())); \
          } \
        })().catch((error) => { \
          console.error(`oauth2c: download failed: ${error.cause?.message ?? error.message}. Offline, put the release tarball and checksums.txt in vendor/oauth2c/, or pass --build-arg OAUTH2C_BASE_URL=<mirror>.`); \
          process.exit(1); \
        }); \
      ' "$url" "$tarball" checksums.txt; \
    fi; \
    grep "  ${tarball}\$" checksums.txt >expected.txt || fail "$tarball is not listed in checksums.txt: is it from release ${OAUTH2C_VERSION} (OAUTH2C_VERSION)?"; \
    sha256sum -c expected.txt || fail "$tarball does not match its sha256 in checksums.txt"; \
    tar -xzf "$tarball" oauth2c || fail "$tarball holds no file named oauth2c"; \
    install -m 0755 oauth2c /usr/local/bin/oauth2c; \
    rm -rf /tmp/oauth2c/* /tmp/vendor /tmp/ca /tmp/extra-ca.pem

# ---- the image: official imapsync + Node.js + oauth2c + the tool
FROM ${IMAPSYNC_IMAGE}
USER root
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=oauth2c /usr/local/bin/oauth2c /usr/local/bin/oauth2c
COPY --from=build /app/package.json /opt/m365-imapsync/package.json
COPY --from=build /app/node_modules /opt/m365-imapsync/node_modules
COPY --from=build /app/dist/src /opt/m365-imapsync/dist/src
# Node needs libstdc++; install it only if this imapsync image lacks it (that needs a Debian
# mirror). Then prove every program starts, so that a broken combination fails the build, not
# the first migration. uid and gid are numeric and equal (Kubernetes runAsNonRoot checks USER);
# /work is writable by any uid (sticky, like /tmp) so the container can run as the admin's own
# uid:gid and read 0600 password files owned by that account.
RUN set -eu; \
    if ! node --version >/dev/null 2>&1; then \
      echo "Node.js does not start on ${IMAPSYNC_IMAGE:-this imapsync image}; installing libstdc++6 from its Debian mirror" >&2; \
      { apt-get update && apt-get install -y --no-install-recommends libstdc++6 && rm -rf /var/lib/apt/lists/*; } \
      || { echo "Could not install libstdc++6 (no network or no Debian mirror?). Build on an imapsync image that has libstdc++6, or give the build a reachable Debian mirror (docker build --network host)." >&2; exit 1; }; \
    fi; \
    ln -s /opt/m365-imapsync/dist/src/cli.js /usr/local/bin/m365-imapsync; \
    node --version; \
    oauth2c version; \
    imapsync --version; \
    m365-imapsync --version; \
    m365-imapsync --help >/dev/null; \
    groupadd --gid 10001 migrator; \
    useradd --uid 10001 --gid 10001 --home-dir /work --no-create-home --shell /usr/sbin/nologin migrator; \
    install -d -m 1777 -o 10001 -g 10001 /work

# No CALLBACK_ADDR: oauth2c's callback listens on 127.0.0.1:9876, which with --network host is the
# Docker host's loopback only. Set CALLBACK_ADDR=0.0.0.0:9876 only with a published port
# (-p 127.0.0.1:9876:9876), where it means the container's own interfaces.
ENV WORK_DIR=/work \
    IMAPSYNC_BIN=/usr/bin/imapsync \
    OAUTH2C_BIN=/usr/local/bin/oauth2c \
    HOME=/work
USER 10001:10001
WORKDIR /work
VOLUME ["/work"]
EXPOSE 9876
# The tool ends on SIGTERM: imapsync runs are aborted, interrupted mailboxes marked, the report
# written, exit 143 (give it the compose file's stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["m365-imapsync"]
CMD ["--help"]
