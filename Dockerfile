# The gateway: the only part that faces the internet.
FROM python:3.11-slim
WORKDIR /srv/complaint-gateway
COPY pyproject.toml README.md LICENSE ./
COPY channels ./channels
COPY gateway ./gateway
COPY handoff ./handoff
COPY records ./records
COPY store ./store
# The wheel's files are what runs (.ci/wheel-smoke starts the gateway from the same wheel).
RUN pip install --no-cache-dir . && mkdir -p /var/lib/complaint-gateway && chown nobody /var/lib/complaint-gateway
# DATA_DIR: the embedded Redis and the SQLite record when REDIS_URL and DATABASE_URL are not set.
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/var/lib/complaint-gateway
EXPOSE 8080
USER nobody
CMD ["complaint-gateway", "serve"]
