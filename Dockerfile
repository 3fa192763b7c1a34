# The service image: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin oa-aggregator

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /srv/oa oa \
 && mkdir -p /srv/oa/data && chown -R oa /srv/oa
COPY --from=build /src/target/release/oa-aggregator /usr/local/bin/oa-aggregator
USER oa
WORKDIR /srv/oa
EXPOSE 8080
ENTRYPOINT ["oa-aggregator"]
CMD ["serve"]
