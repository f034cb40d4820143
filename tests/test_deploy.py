"""The image and the host recipe. No Docker daemon runs on this machine (and no registry is reachable
to pull a base image), so the Dockerfile is checked another honest way: its settings are read and
checked, every file it copies exists and is not ignored, and its own CMD and HEALTHCHECK are run
here: the app starts as the image starts it and answers the health check."""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every `NAME ...` instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in text.splitlines() if line.split(None, 1)[:1] == [name]]


def test_the_image_runs_as_a_non_root_user_with_data_and_weights_as_volumes():
    assert instructions("FROM") == ["python:3.11-slim"]
    assert instructions("USER") == ["lifter"] and "useradd --create-home --uid 1000 lifter" in DOCKERFILE
    assert json.loads(instructions("VOLUME")[0]) == ["/data", "/weights"]
    env = " ".join(instructions("ENV"))
    for setting in ("SQUAT_HOSTED=1", "SQUAT_DATA_DIR=/data", "SQUAT_WEIGHTS_DIR=/weights"):
        assert setting in env
    # the CPU wheel by default, CUDA by a build argument; torch stays pinned by requirements.txt
    assert instructions("ARG") == ["TORCH_INDEX=https://download.pytorch.org/whl/cpu"]
    assert '--extra-index-url "${TORCH_INDEX}" -r requirements.txt' in DOCKERFILE
    assert "torch==2.13.0" in (REPO / "requirements.txt").read_text()


def test_everything_the_app_needs_is_copied_and_not_ignored():
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for copy in instructions("COPY"):
        source = [part for part in copy.split() if not part.startswith("--")][0]
        assert (REPO / source).exists(), source
    for needed in ("app.py", "squat", "dashboard", "samples", "weights", ".streamlit", "requirements.txt"):
        assert needed not in ignored, needed


def test_the_images_command_starts_the_app_and_its_healthcheck_passes(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [arg.replace("8501", str(port)).replace("0.0.0.0", "127.0.0.1")
               for arg in json.loads(instructions("CMD")[0])]
    assert command[:3] == ["streamlit", "run", "app.py"]
    health = shlex.split(instructions("HEALTHCHECK")[0].split(" CMD ", 1)[1].replace("8501", str(port)))
    env = dict(os.environ, SQUAT_HOSTED="1", SQUAT_DATA_DIR=str(tmp_path / "data"),
               SQUAT_WEIGHTS_DIR=str(tmp_path / "weights"))
    app = subprocess.Popen([sys.executable, "-m", *command, "--server.fileWatcherType", "none"], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        unhealthy = subprocess.run([sys.executable if a == "python" else a for a in health]).returncode
        deadline = time.time() + 60
        while unhealthy and time.time() < deadline:
            time.sleep(0.5)
            unhealthy = subprocess.run([sys.executable if a == "python" else a for a in health],
                                       capture_output=True).returncode
        assert unhealthy == 0
    finally:
        app.terminate()
        app.wait(timeout=20)


def test_compose_runs_the_app_workers_and_redis_on_one_data_volume():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    app, worker, redis = (compose["services"][name] for name in ("app", "worker", "redis"))
    for service in (app, worker):
        assert service["environment"] == {"SQUAT_QUEUE": "redis://redis:6379/0", "SQUAT_WORKERS": "0"}
        assert "squat-data:/data" in service["volumes"] and service["depends_on"] == ["redis"]
    assert worker["command"] == ["python", "-m", "squat", "worker"] and app["ports"] == ["8501:8501"]
    assert worker["cpu_shares"] < app.get("cpu_shares", 1024) / 5  # the app answers clicks first
    assert redis["image"].startswith("redis:")


def test_the_readme_front_matter_makes_the_repository_a_docker_space():
    readme = (REPO / "README.md").read_text()
    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front["sdk"] == "docker" and front["app_port"] == 8501 and front["suggested_hardware"]
