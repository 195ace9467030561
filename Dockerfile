# One image for every process of sessionbot: the server with the bridge (role "bot"), the
# Celery workers ("worker"), the one-shot "setup", or all in one ("run", the default).
# Roles and their commands: deploy/sessionbot.sh. Compose file: compose.yaml.
FROM python:3.11-slim-bookworm

# tini reaps zombies and forwards signals to runbroker; bubblewrap and nftables build the
# plugin sandbox (docs/security.md); git installs plugins from git URLs.
# Debian's stable updates are security fixes, so the packages are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini bubblewrap nftables git \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 sessionbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app/data --no-create-home \
        --shell /usr/sbin/nologin sessionbot

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/app/.venv/bin:$PATH \
    DATA_DIR=/app/data \
    HOST_IP=0.0.0.0

WORKDIR /app
COPY requirements.txt ./
RUN python -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.txt

COPY . .
# The code belongs to root and is read-only for the processes; data/ (with the default
# config.yaml and plugins.yaml, copied into a new volume) belongs to the app's user.
RUN chown -R 10001:10001 /app/data && chmod 0750 /app/data
VOLUME ["/app/data"]

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/app/deploy/sessionbot.sh", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/sessionbot.sh"]
CMD ["run"]
