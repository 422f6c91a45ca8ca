"""Packaging: every sub-package is declared, and shipped profiles are found after a non-editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "neurosim").rglob("__init__.py")}
    assert found <= declared, f"add to [tool.setuptools] packages: {sorted(found - declared)}"
    assert "neurosim.hardware_profiles" in declared


@pytest.mark.slow
def test_non_editable_install_finds_shipped_profiles(tmp_path):
    wheel_dir = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheel_dir), str(ROOT)], capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{build.stdout}\n{build.stderr}")
    wheel = next(wheel_dir.glob("neurosim_edge-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.stem for p in (ROOT / "hardware_profiles").glob("*.toml"))
    for stem in shipped:
        assert f"neurosim/hardware_profiles/{stem}.toml" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Run from an empty folder with only the installed copy on the path (dependencies come from this venv).
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import neurosim, sys; p = neurosim.load_profile('rram_hfo2'); "
            "print(neurosim.__file__); print(','.join(neurosim.list_profiles()))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    location, listed = proc.stdout.strip().splitlines()
    assert location.startswith(str(target)), location
    assert listed.split(",") == shipped
