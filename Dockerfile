# Tequio API and projection worker: one image, two commands (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv: the same tool, and the same lock file, as in development.
RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself.
COPY src ./src
RUN uv sync --frozen --no-dev

ENV PATH="/app/.venv/bin:${PATH}"

# Without DATABASE_URL the embedded PostgreSQL keeps its data here (mount a volume).
RUN useradd --create-home --uid 10001 tequio && mkdir /data && chown tequio:tequio /data
ENV TEQUIO_DATA_DIR=/data
VOLUME ["/data"]
USER tequio

EXPOSE 8000
CMD ["tequio", "serve", "--host", "0.0.0.0", "--port", "8000"]
