"""The trained Rasa model, cached by a fingerprint of what it is trained from.

Training takes minutes; `make run` and the tests call `ensure_model`, which trains only when
`data/`, `config.yml`, `domain.yml` or the pinned Rasa environment changed since the last model.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RASA_VENV = PROJECT_ROOT / ".venv-rasa"
TRAINING_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "nlu",
    "requirements/rasa.lock",
    "requirements/rasa-models.lock",
)


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    """A short hash of every file the model is trained from (paths and contents)."""
    digest = hashlib.sha256()
    add_files(digest, root, TRAINING_INPUTS)
    return digest.hexdigest()[:16]


def add_files(digest: Any, root: Path, names: Iterable[str]) -> None:
    """Feeds `digest` the path and contents of every file under `names` (files or folders)."""
    for name in names:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")


def model_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "models" / f"assistant-{fingerprint(root)}.tar.gz"


def rasa_executable(root: Path = PROJECT_ROOT) -> Path:
    return root / ".venv-rasa" / "bin" / "rasa"


def rasa_environment() -> dict[str, str]:
    """Environment for Rasa processes: no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONWARNINGS="ignore",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
    )
    return env


def ensure_model(root: Path = PROJECT_ROOT, *, quiet: bool = False) -> Path:
    """Return the model for the current training data, training it first if there is none."""
    target = model_path(root)
    if target.exists():
        if not quiet:
            print(f"Model is current: {target.relative_to(root)}", file=sys.stderr)
        return target
    rasa = rasa_executable(root)
    if not rasa.exists():
        raise SystemExit("The Rasa environment is missing: run `make setup` first.")
    print(
        f"Training the assistant (data changed; about two minutes) -> {target.relative_to(root)}",
        file=sys.stderr,
    )
    started = time.monotonic()
    command = [
        str(rasa), "train",
        "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
        "--out", "models", "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=root, env=rasa_environment(), check=False)  # noqa: S603
    if result.returncode != 0 or not target.exists():
        raise SystemExit(f"Training failed (exit {result.returncode}); see the output above.")
    _remove_stale_models(root / "models", keep=target)
    print(f"Trained in {time.monotonic() - started:.0f} s.", file=sys.stderr)
    return target


def _remove_stale_models(models_dir: Path, *, keep: Path) -> None:
    # Models are large; keep the newest few so switching branches back and forth is cheap.
    older = sorted(
        (p for p in models_dir.glob("assistant-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in older[2:]:
        stale.unlink(missing_ok=True)
