# cicd-exporter and cicd-detector in one image (Debian 12, the distribution
# the project builds and tests on). Build from the repository's root:
#   docker build -t cicd-anomaly:local .
# Default command: cicd-exporter; run the detector with
#   docker run cicd-anomaly:local cicd-detector --config.file=/etc/cicd/detector.yml

# --- build stage: the build packages of scripts/install-deps.sh (no test peers)
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config \
      prometheus-cpp-dev libcivetweb-dev libcpp-httplib-dev libboost-json1.81-dev libboost1.81-dev \
      libyaml-cpp-dev libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCICD_BUILD_TESTS=OFF -DCICD_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target cicd-exporter cicd-detector \
 && strip --strip-debug /build/bin/cicd-exporter /build/bin/cicd-detector

# --- runtime stage: only the shared libraries the binaries link (ldd, mapped
# to Debian 12 packages with dpkg -S), CA certificates for HTTPS to CI APIs,
# and curl for the health checks.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libbrotli1 libcivetweb1 libcpp-httplib0.11 libprometheus-cpp-core1.0 \
      libssl3 libyaml-cpp0.7 zlib1g \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cicd \
 && install -d -o cicd -g cicd -m 0755 /var/lib/cicd-exporter \
 && install -d -o cicd -g cicd -m 0750 /var/lib/cicd-detector \
 && install -d -m 0755 /etc/cicd
COPY --from=build /build/bin/cicd-exporter /build/bin/cicd-detector /usr/local/bin/
COPY config/compose/exporter.yml config/compose/detector.yml /etc/cicd/
# The bundled history, so the default command runs the replay demo as is.
COPY data/demo-runs.jsonl /data/
USER cicd:cicd
WORKDIR /var/lib/cicd-exporter
EXPOSE 9801 9802
CMD ["cicd-exporter", "--config.file=/etc/cicd/exporter.yml"]
