# syntax=docker/dockerfile:1
# Stockroom web image: gunicorn serving config.wsgi, static files by WhiteNoise.

# --- build: install the pinned runtime dependencies into a venv -------------
FROM python:3.13-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# --- runtime: the venv, the code and the collected static files -------------
FROM python:3.13-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base \
    DJANGO_DEBUG=false \
    PORT=8000

RUN groupadd --system --gid 10001 stockroom \
    && useradd --system --uid 10001 --gid stockroom --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin stockroom

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# Code and static files stay owned by root: the app user can read, not change them.
COPY . .

# collectstatic only reads settings (it connects to no database); this throwaway key
# and database URL never reach a running container.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret \
    DATABASE_URL=postgres://collectstatic@localhost/unused \
    python manage.py collectstatic --noinput --verbosity 0

USER 10001:10001
EXPOSE 8000

# /healthz is answered before host validation, so the probe works with any ALLOWED_HOSTS.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]
