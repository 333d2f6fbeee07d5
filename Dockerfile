# pollhub: one image for the API and the worker (docker-compose.yml runs both).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
# The source checkout is installed editable, so alembic.ini and migrations/ stay beside it.
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN pip install -e . && useradd --system --home-dir /app pollhub
USER pollhub

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["pollhub"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
