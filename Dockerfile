FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY portal ./portal
COPY billing ./billing
COPY licensing ./licensing
COPY upgrades ./upgrades
COPY support ./support
RUN pip install --no-cache-dir .
COPY . .
# Collected with the settings the containers run: production's manifest storage needs the
# staticfiles.json that only its own collectstatic writes (without it every page is a 500).
# Production settings read their secrets and services at import; these build-only stand-ins
# live on this RUN line alone (nothing connects to them), never in the image's environment.
RUN export DJANGO_SETTINGS_MODULE=config.settings.production \
        DJANGO_SECRET_KEY=build-only-not-secret \
        DJANGO_ALLOWED_HOSTS=localhost \
        PORTAL_TRUSTED_PROXY_COUNT=0 \
        DATABASE_URL=postgres://build-only@localhost/build-only \
        REDIS_URL=redis://localhost:6379/0 \
    && python manage.py compiletranslations \
    && python manage.py collectstatic --noinput -v0
RUN useradd --create-home portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
# Four sync workers for two cores: measured against threads and more workers (docs/PERFORMANCE.md).
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
