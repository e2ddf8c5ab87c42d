# The gateway: the only part that faces the internet.
FROM python:3.11-slim
WORKDIR /srv/complaint-gateway
COPY pyproject.toml README.md ./
COPY channels ./channels
COPY gateway ./gateway
COPY handoff ./handoff
RUN pip install --no-cache-dir .
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
USER nobody
CMD ["complaint-gateway", "serve"]
