"""Write ``pinned_behaviour.json``: the numbers ``tests/test_pinned_behaviour.py`` holds the code to.

Run it only when a change is meant to change these numbers (a new model, a fixed bug), and say so in the commit:
``python tests/data/make_pins.py``. It runs README's main job (every trainer on digits), every trainer adapting
online (recluster with drift), and inference of digits_mlp on every shipped profile, and keeps their records and
reports (wall times aside).
"""

# ruff: noqa: I001  (neurosim is imported before numpy on purpose: it pins the BLAS kernel family)
from __future__ import annotations

import json
from pathlib import Path

import neurosim  # first: pins the BLAS kernel family (neurosim._blas)
import numpy as np
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario
from neurosim.experiments.compare import CompareSpec, run_compare
from neurosim.training import TRAINERS

OUT = Path(__file__).with_name("pinned_behaviour.json")
ONLINE = Scenario(shift="recluster", analog_drift=0.001, digital_drift=1e-6, seed=0)


def stripped(record) -> dict:
    """A record without its wall times (everything else is deterministic)."""
    d = json.loads(record.to_json())
    for item in d["epochs"] + d["checkpoints"]:
        item.pop("wall_time_s")
    return d


def inference(profile: str) -> dict:
    data = load_dataset("digits")
    chip = neurosim.Chip(profile, neurosim.load_model("digits_mlp"), calibration=data.x_train[:256])
    predicted = chip.predict(data.x_test)
    report = chip.report(accuracy=float(np.mean(predicted == data.y_test)))
    return {"report": json.loads(json.dumps(report.to_dict())), "predictions": predicted.tolist()}


def main() -> None:
    pins = {"compare_digits": {r.trainer["name"]: stripped(r)
                               for r in run_compare(CompareSpec(trainers=sorted(TRAINERS)), progress=False)},
            "online_recluster": {r.trainer["name"]: stripped(r) for r in run_compare(
                CompareSpec(trainers=sorted(TRAINERS), model="64-32-10", scenario=ONLINE), progress=False)},
            "infer_digits": {name: inference(name) for name in neurosim.list_profiles()}}
    OUT.write_text(json.dumps(pins, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
