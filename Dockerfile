# Medallion container image: one image, every service (server, orchestrator,
# retailapp); compose.yaml picks the command. Multi-stage: the build stage
# has the compilers and -dev packages, the runtime stage only the shared
# libraries. Each container runs scripts/run-service, the same script the
# native demo (scripts/demo) runs.

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config meson \
      ninja-build libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev \
      libpq-dev libsqlite3-dev libzstd-dev libsnappy-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup /build --buildtype=release -Dwerror=true \
 && ninja -C /build \
 && meson install -C /build --destdir /stage --no-rebuild --skip-subprojects

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 \
      libcurl4 libpq5 libsqlite3-0 libzstd1 libsnappy1v5 zlib1g curl \
      ca-certificates postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/medallion --create-home medallion
COPY --from=build /stage/ /
COPY scripts/run-service /usr/local/bin/medallion-run-service
USER medallion
WORKDIR /var/lib/medallion
ENV MEDALLION_DATA=/var/lib/medallion MEDALLION_LAKE=/var/lib/medallion/lake
ENTRYPOINT ["/usr/local/bin/medallion-run-service"]
