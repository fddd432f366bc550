# One image for web, workers and beat. torch's CPU build: the default wheel would pull several GB of CUDA.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    GRADER_MODEL_DIR=/models GRADER_VAR_DIR=/app/var DJANGO_STATIC_ROOT=/app/static GRADER_STATIC_FROM_APPS=0
WORKDIR /app
COPY requirements.txt .
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -r requirements.txt
COPY . .
# The admin's CSS and JS, served by WhiteNoise from gunicorn. Collected with the embedded settings (no secrets).
RUN python manage.py collectstatic --noinput \
 && useradd --create-home --uid 10001 grader \
 && mkdir -p /app/var /models \
 && chown -R grader /app/var /models
USER grader
EXPOSE 8000
# Liveness of the web process; workers and beat override it in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "grader.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
