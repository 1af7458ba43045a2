# bcs-storage container image.
#
#   docker build -t bcs-storage .
#   docker run -p 8080:8080 -v bcs-storage-data:/var/lib/bcs-storage bcs-storage
#
# Configuration: environment variables BCS_STORAGE__<SECTION>__<KEY> (see
# conf/bcs-storage.toml), or a TOML file mounted into the container and passed
# with `serve --config /path/to/file.toml`.

FROM rust:1.89-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY conf ./conf
COPY bench ./bench
RUN cargo build --release --locked

FROM debian:bookworm-slim
# ca-certificates: TLS connections to MongoDB; curl: the HEALTHCHECK below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 bcs-storage \
    && useradd --system --uid 10001 --gid bcs-storage --no-create-home \
        --home-dir /var/lib/bcs-storage --shell /usr/sbin/nologin bcs-storage \
    && mkdir -p /var/lib/bcs-storage \
    && chown bcs-storage:bcs-storage /var/lib/bcs-storage
COPY --from=builder /src/target/release/bcs-storage /usr/local/bin/bcs-storage
ENV BCS_STORAGE__SERVER__LISTEN=0.0.0.0:8080 \
    BCS_STORAGE__STORAGE__SQLITE__PATH=/var/lib/bcs-storage
USER 10001:10001
WORKDIR /var/lib/bcs-storage
VOLUME ["/var/lib/bcs-storage"]
EXPOSE 8080
# Checks port 8080; adjust it if BCS_STORAGE__SERVER__LISTEN is changed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/bcs-storage"]
CMD ["serve"]
