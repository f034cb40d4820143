# The squat form check app for a share host (hosted mode: each lifter sees only their own sets).
#   CPU:  docker build -t squat-form-check .
#   GPU:  docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 -t squat-form-check:gpu .
#   run:  docker run -p 8501:8501 -v squat-data:/data -v squat-weights:/weights squat-form-check
# compose.yaml runs the app, workers and Redis together; the README's "Deployment" has the Hugging Face Space steps.
FROM python:3.11-slim

# Which PyTorch build: the CPU wheel by default; a CUDA index for a GPU host (torch stays 2.13.0).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    SQUAT_HOSTED=1 \
    SQUAT_DATA_DIR=/data \
    SQUAT_WEIGHTS_DIR=/weights \
    SQUAT_KEEP_DAYS=30

# A non-root user owns the app and the two volumes (uid 1000, as Hugging Face Spaces run).
RUN useradd --create-home --uid 1000 lifter \
    && mkdir -p /data /weights \
    && chown lifter:lifter /data /weights

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX}" -r requirements.txt
COPY --chown=lifter:lifter . .

USER lifter
VOLUME ["/data", "/weights"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
