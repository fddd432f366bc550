# One image for web, workers and beat. torch's CPU build: the default wheel would pull several GB of CUDA.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -r requirements.txt
COPY . .
RUN useradd --create-home grader && mkdir -p /app/var /models && chown -R grader /app/var /models
USER grader
ENV GRADER_MODEL_DIR=/models
EXPOSE 8000
CMD ["gunicorn", "grader.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
