"""Fuzzing the command line: any argument list gives exit status 0, 1 (a one-line error) or 2 (a usage error),
never a traceback. Options that set the amount of work are drawn small so that every example runs in moments;
every text an option takes is drawn freely (long, unicode, paths that are folders or below files)."""

from __future__ import annotations

import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.cli import main

EXAMPLES = int(os.environ.get("NEUROSIM_FUZZ_EXAMPLES", "120"))
COUNTS = {"tried": 0, "ok": 0, "errors": 0, "usage": 0, "tracebacks": 0}

texts = st.one_of(
    st.text(max_size=12), st.text(min_size=250, max_size=400), st.sampled_from([
        "", " ", "-", "--", "nope", "rram_hfo2", "ideal", "digits_mlp", "mnist_mlp", "64-16-10", "64-0-10",
        "64-99999999999-10", "digits", "iris", "mnist:/nonexistent", "mnist:.", ".", "/", "/etc/passwd",
        "/etc/passwd/x.json", "out.json", "plot.png", "plot.jpg", "sub/dir/out.json", "x" * 300, "é∂ƒ", "\x00",
        "1e400", "-1", "0", "nan", "inf", "periphery.adc_bits=4", "periphery.adc_bits=99", "nokey=1", "=",
        "lr=0.01", "lr=-1", "sgd.lr=0.1", "1h,1d", "1y,1h", "0"]))
small_ints = st.integers(-3, 3).map(str)


@st.composite
def argv(draw) -> list[str]:
    command = draw(st.sampled_from(["map", "infer", "train", "profiles", "executors", "trainers", "sweep", "plot",
                                    "compare", "bogus"]))
    out = [command]
    if command == "profiles":
        out.append(draw(st.sampled_from(["list", "show", "validate", "nope"])))
        out += draw(st.lists(texts, max_size=2))
    elif command == "trainers":
        out += draw(st.lists(st.sampled_from(["list", "show", "sgd", "nope", "--help"]), max_size=2))
    elif command in ("plot", "sweep"):
        out += draw(st.lists(texts, max_size=2)) + (["--dry-run"] if command == "sweep" else [])
    elif command == "compare":
        out += ["--epochs", "1", "--trainers", draw(st.sampled_from(["sgd", "nope"])), "--model",
                draw(st.sampled_from(["4-3", "nope", "64-0-10"])), "--data", draw(st.sampled_from(["iris", "x"]))]
        out += draw(st.lists(st.sampled_from(["--seeds", "--batch-size", "--workers", "--sample-rate"]), max_size=1))
        out += draw(st.lists(texts, max_size=2))
    elif command in ("map", "infer", "train"):
        options = {"--model": texts, "--profile": texts, "--set": texts, "--json": texts, "--plot": texts,
                   "--placement": texts}
        if command == "infer":
            options.update({"--data": texts, "--n": small_ints, "--batch": small_ints, "--after": texts,
                            "--executor": texts, "--timesteps": small_ints, "--activation-levels": small_ints,
                            "--calibration": small_ints})
        if command == "train":
            options = {"--model": texts, "--profile": texts, "--set": texts, "--data": texts, "--param": texts,
                       "--out": texts, "--trainer": st.sampled_from(["sgd", "coordinate", "nope"]),
                       "--epochs": small_ints, "--batch-size": small_ints, "--sample-rate": texts}
        chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=5, unique=True))
        for option in chosen:
            out += [option, draw(options[option])]
        if command in ("infer", "train"):
            out += ["--quiet"]
        if command == "infer" and "--n" not in chosen:
            out += ["--n", "5"]
        if command in ("map", "infer") and "--model" not in chosen:
            out += ["--model", draw(st.sampled_from(["digits_mlp", "iris_mlp", "4-3"]))]
        if command == "train" and "--data" not in chosen:
            out += ["--data", "iris"]
    return out


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 120,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(args=argv())
def test_any_argument_list_exits_cleanly(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    err, out = io.StringIO(), io.StringIO()
    COUNTS["tried"] += 1
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = main(args)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        status = exc.code
        COUNTS["usage"] += status == 2
    except BaseException as exc:
        COUNTS["tracebacks"] += 1
        pytest.fail(f"neurosim {args!r} raised {type(exc).__name__}: {exc}")
    assert status in (0, 1, 2), (args, status)
    COUNTS["ok"] += status == 0
    COUNTS["errors"] += status == 1
    assert "Traceback" not in err.getvalue(), (args, err.getvalue())
    if status == 1:  # the reason is said (a path may itself hold line breaks, so look at the start)
        assert err.getvalue().lstrip().startswith(("error:", "invalid:", "failed:")) or \
            "failed" in out.getvalue(), (args, err.getvalue())


def test_fuzz_counts_are_reported():
    """The counts of the run above (``-s`` shows them): inputs tried, accepted, errors, usage errors, tracebacks."""
    print(f"\nCLI fuzz: {COUNTS}")
    assert COUNTS["tracebacks"] == 0
