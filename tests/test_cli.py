"""Integration tests of the `neurosim` command: the installed console script and the in-process entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import neurosim
from neurosim.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("neurosim")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "neurosim", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_console_script_lists_every_shipped_profile():
    proc = _run("profiles", "list")
    assert proc.returncode == 0, proc.stderr
    for name in neurosim.list_profiles():
        assert name in proc.stdout
    assert "rram_hfo2 (default)" in proc.stdout


def test_show_prints_every_key_with_si_value(capsys):
    assert main(["profiles", "show", "pcm"]) == 0
    out = capsys.readouterr().out
    assert "device.set_energy_pj" in out and "2.7e-11 J" in out
    assert "chip.clock_mhz" in out and "5e+08 Hz" in out


def test_show_toml_is_loadable(tmp_path, capsys):
    assert main(["profiles", "show", "stt_mram", "--toml"]) == 0
    path = tmp_path / "copy.toml"
    path.write_text(capsys.readouterr().out)
    assert neurosim.load_profile(path).content_hash == neurosim.load_profile("stt_mram").content_hash


def test_validate_good_and_bad_files(tmp_path):
    good = tmp_path / "whatif.toml"
    good.write_text('base = "rram_hfo2"\nname = "whatif"\n[device]\nendurance_cycles = 1e5\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "rram_hfo2"\nname = "bad"\n[periphery]\nadc_bits = 40\n')
    ok = _run("profiles", "validate", str(good))
    assert ok.returncode == 0 and "ok:" in ok.stdout
    fail = _run("profiles", "validate", str(good), str(bad))
    assert fail.returncode == 1
    assert "Traceback" not in fail.stderr
    assert str(bad) in fail.stderr and "periphery.adc_bits" in fail.stderr and "40" in fail.stderr
    assert "[1, 32]" in fail.stderr


def test_validate_typo_suggests_key(tmp_path):
    typo = tmp_path / "typo.toml"
    typo.write_text('base = "rram_hfo2"\nname = "typo"\n[device]\nendurance_cycle = 1e5\n')
    proc = _run("profiles", "validate", str(typo))
    assert proc.returncode == 1
    assert "did you mean 'device.endurance_cycles'" in proc.stderr


def test_unknown_profile_is_a_clean_error():
    proc = _run("profiles", "show", "no_such_profile")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "unknown profile 'no_such_profile'" in proc.stderr and "rram_hfo2" in proc.stderr


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as exc:
        main(["profiles", "frobnicate"])
    assert exc.value.code == 2
