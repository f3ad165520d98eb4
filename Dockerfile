# syntax=docker/dockerfile:1
# Build a static sitrep binary, then run it as a non-root user on a /data volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sitrep ./cmd/sitrep \
 && mkdir -p /out/data /out/tmp \
 && echo 'sitrep:x:10001:10001:sitrep:/data:/sbin/nologin' > /out/passwd

# The binary embeds its time zone data; CA certificates are for the platforms' APIs.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build --chmod=1777 /out/tmp /tmp
COPY --from=build --chown=10001:10001 /out/data /data
COPY --from=build /out/sitrep /usr/local/bin/sitrep
ENV SITREP_DB=/data/sitrep.db SITREP_HTTP_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["sitrep"]
CMD ["serve"]
