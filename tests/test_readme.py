"""README's examples stay true: every python block runs, stated outputs match, the TOML example validates."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import neurosim

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_blocks_run_and_print_what_readme_says():
    blocks = _blocks("python")
    assert len(blocks) >= 2
    for code in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
        # a comment line right after a print(...) line states that print's output
        lines = code.splitlines()
        for before, line in zip(lines, lines[1:]):
            if before.startswith("print(") and line.startswith("# "):
                assert line[2:] in out.getvalue().splitlines(), (line, out.getvalue())


def test_toml_example_validates(tmp_path):
    (toml,) = [b for b in _blocks("toml") if "kind =" not in b]
    path = tmp_path / "my.toml"
    path.write_text(toml)
    profile = neurosim.load_profile(path)
    assert profile.name == "rram_low_endurance"
    assert profile.device.endurance_cycles == 1e4
    assert profile.device.set_energy_j == neurosim.load_profile("rram_hfo2").device.set_energy_j


def test_study_spec_example_loads_and_expands_as_readme_says(tmp_path):
    from neurosim.experiments import load_study_spec
    from neurosim.experiments.points import expand, repriced_axes

    (toml,) = [b for b in _blocks("toml") if "kind =" in b]
    path = tmp_path / "study.toml"
    path.write_text(toml)
    spec = load_study_spec(path)
    points = expand(spec)
    # sgd: 2 ADC widths x 2 learning rates x 2 prices x 2 crossbars; coordinate: the same without the rates; 3 seeds
    assert len(points) == 3 * (16 + 8)
    assert repriced_axes(spec) == ["device.set_energy_pj"]
    assert len({p.sim_key for p in points}) == len(points) // 2
    assert {p.task["batch_size"] for p in points if p.task["trainer"] == "sgd"} == {32}


def test_profile_table_lists_every_shipped_profile():
    for name in neurosim.list_profiles():
        assert f"| `{name}`" in README


def test_main_job_table_is_what_compare_prints(main_job):
    """The table under the install command is real output of `neurosim compare` (wall times aside)."""
    block = README.split("<!-- ci:install -->", 1)[1]
    table = re.findall(r"```\n(trainer .*?)```", block, flags=re.S)[0].strip().splitlines()
    printed = [line for line in main_job[0].splitlines() if line.strip()]
    start = next(i for i, line in enumerate(printed) if line.startswith("trainer "))
    got = printed[start: start + len(table)]

    def cells(line):
        return line.split()[:-1]  # the last column is wall time

    assert [cells(line) for line in got] == [cells(line) for line in table]


def _console_blocks() -> list[tuple[str, list[str]]]:
    """README's console examples: fenced blocks whose first line is ``$ neurosim ...``, with the output under it."""
    out, block = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if block is not None and block and block[0].startswith("$ neurosim "):
                out.append((block[0][2:], block[1:]))
            block = [] if block is None else None
        elif block is not None:
            block.append(line)
    return out


@pytest.mark.parametrize("command, expected", [b for b in _console_blocks() if "mnist " not in b[0] + " "
                                               and "--data mnist" not in b[0]], ids=lambda v: str(v)[:40])
def test_console_examples_print_what_readme_shows(command, expected, tmp_path, monkeypatch, capsys):
    """Every console example that needs no data set outside the package runs and prints exactly what README shows
    (the MNIST ones need the data and are run by hand)."""
    import shlex

    from neurosim.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the shipped study specs, by their README paths
    assert main(shlex.split(command)[1:]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == expected
