"""`manage.py check --deploy` is clean once the production variables are set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x7Qp2v9LrT4mW8zN1cB6yH3kJ5sF0gD_aEuVoRiPlKqXwZtYnMb-4s8d",
    "ALLOWED_HOSTS": "office.city.example.lg.jp",
    "CSRF_TRUSTED_ORIGINS": "https://office.city.example.lg.jp",
    "DATABASE_URL": "postgres://cityhall@127.0.0.1:5432/cityhall",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}
    }
    env.update(PRODUCTION_ENV, VAR_DIR=str(tmp_path), **extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path: Path) -> None:
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_complains_about_a_weak_secret(tmp_path: Path) -> None:
    result = run_check(tmp_path, SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr
