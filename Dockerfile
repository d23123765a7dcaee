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
RUN DJANGO_SETTINGS_MODULE=config.settings.local python manage.py compiletranslations \
    && DJANGO_SETTINGS_MODULE=config.settings.local python manage.py collectstatic --noinput -v0
RUN useradd --create-home portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
# Four sync workers for two cores: measured against threads and more workers (docs/PERFORMANCE.md).
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
