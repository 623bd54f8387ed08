# procsuite service image (production: `procsuite serve` against mosquitto, PostgreSQL and a PACS).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY suite ./suite
COPY adapters ./adapters
COPY tui ./tui
COPY simulators ./simulators
RUN pip install . \
 && useradd --system --home /var/lib/procsuite --create-home procsuite
USER procsuite
ENV PROCSUITE_DATA_DIR=/var/lib/procsuite
VOLUME ["/var/lib/procsuite"]
EXPOSE 11112 2575
ENTRYPOINT ["procsuite"]
CMD ["serve"]
