# Medallion container image: one image, every service (server, orchestrator,
# retailapp); compose.yaml picks the command. Multi-stage: the build stage
# has the compilers and -dev packages, the runtime stage only the shared
# libraries and curl (the server's health check). Tests and benchmarks are
# not built here (-Dtests=false), and warnings do not fail the build
# (-Dwerror=false): a newer compiler must not break a deployment.
#
# The container starts as root only to copy its secrets into a private
# tmpfs (any file mode works) and then drops to the medallion user (uid and
# gid 999) for good: see deploy/entrypoint.

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config meson \
      ninja-build libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev \
      libpq-dev libsqlite3-dev libzstd-dev libsnappy-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads, so a change to docs, tests or deploy files
# does not rebuild (see also .dockerignore).
COPY meson.build meson_options.txt ./
COPY common common
COPY stages stages
COPY retailapp retailapp
COPY server server
COPY orchestrator orchestrator
COPY schemas/sqlite schemas/sqlite
RUN meson setup /build --buildtype=release -Dtests=false -Dwerror=false \
 && ninja -C /build \
 && meson install -C /build --destdir /stage --no-rebuild --skip-subprojects

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 \
      libcurl4 libpq5 libsqlite3-0 libzstd1 libsnappy1v5 zlib1g curl \
      ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 999 medallion \
 && useradd --system --uid 999 --gid 999 --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin medallion \
 && install -d -o medallion -g medallion -m 0750 /var/lib/medallion
COPY --from=build /stage/ /
COPY scripts/run-service /usr/local/bin/medallion-run-service
COPY deploy/entrypoint /usr/local/bin/medallion-entrypoint
WORKDIR /var/lib/medallion
ENV MEDALLION_DATA=/var/lib/medallion MEDALLION_LAKE=/var/lib/medallion/lake
ENTRYPOINT ["/usr/local/bin/medallion-entrypoint"]
