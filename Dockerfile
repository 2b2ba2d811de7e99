# louter in a container: build with the Swift toolchain, run on Debian slim as a non-root user.
#   docker build -t louter .
#   docker run -p 8080:8080 -e OPENAI_API_KEY louter
# Your own route files: mount them over /etc/louter/routes (and send SIGHUP, or run with --watch).
# Validation without a Docker daemon: see README "Install" (hadolint, and each stage's commands run by hand).

# --- build: the release binary (Swift runtime and Foundation static; libcurl dynamic, see scripts/release)
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
# FoundationNetworking links -lcurl: the build needs libcurl's development link (the Swift image usually has it).
# Unpinned on purpose (DL3008): the stable release's current security updates are the ones wanted.
# hadolint ignore=DL3008
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcurl4-openssl-dev binutils \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
# Package.swift names the test targets: SwiftPM wants their folders even to build one product.
COPY Tests Tests
COPY routes routes
COPY scripts scripts
RUN scripts/release

# --- run: libc, libstdc++ and libcurl from Debian; nothing else
FROM debian:bookworm-slim
# libcurl4: https:// backends (URLSession); ca-certificates: their TLS roots; curl: the HEALTHCHECK.
# hadolint ignore=DL3008
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcurl4 ca-certificates curl \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --no-create-home --uid 10001 --shell /usr/sbin/nologin louter
COPY --from=build /src/dist/louter /usr/local/bin/louter
COPY routes /etc/louter/routes
# The image does not build with routes that do not compile or whose [[tests]] fail (and this proves the
# binary runs here, with the libraries of this stage).
RUN ["/usr/local/bin/louter", "check", "/etc/louter/routes"]
USER 10001:10001
EXPOSE 8080
# Beyond loopback, /metrics needs [server] admin_keys (it answers 403 without them); /readyz is open.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:8080/readyz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/louter"]
CMD ["serve", "--routes", "/etc/louter/routes", "--listen", "0.0.0.0:8080"]
