# Delegation Ledger service image (used by docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . /app
RUN pip install . \
 && useradd --create-home --uid 10001 dledger \
 && mkdir -p /data && chown dledger /data

USER dledger
WORKDIR /data
EXPOSE 8080
CMD ["dledger", "serve", "--log", "kafka://kafka:9092", "--views", "/data/views.db", "--host", "0.0.0.0", "--port", "8080"]
