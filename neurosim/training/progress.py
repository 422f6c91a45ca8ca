"""Progress display of training runs (the CLI's view of a run while it goes; the results table is
:func:`neurosim.record.format_table`)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressBar:
    """A one-line progress bar on a terminal, periodic lines otherwise (CI logs stay readable)."""

    def __init__(self, label: str, stream: TextIO | None = None, min_interval_s: float = 0.2):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval_s = min_interval_s if self.tty else 10.0
        self._last = 0.0
        self._t0 = time.perf_counter()

    def __call__(self, info: dict[str, Any]) -> None:
        if info.get("event") == "cells_failed":
            self._line(f"{self.label}: epoch {info['epoch']}: {info['cells_failed']} cells have exhausted their "
                       "endurance and are stuck; training continues on the stuck cells")
            return
        now = time.perf_counter()
        last_step = info["step"] == info["steps_per_epoch"]
        if now - self._last < self.min_interval_s and not last_step:
            return
        self._last = now
        done = (info["epoch"] - 1 + info["step"] / info["steps_per_epoch"]) / info["epochs"]
        width = 24
        bar = "#" * int(done * width) + "." * (width - int(done * width))
        acc = info.get("test_accuracy")
        acc_text = f"test acc {100 * acc:5.1f}%" if acc == acc and acc is not None else ""
        text = (f"{self.label} [{bar}] epoch {info['epoch']}/{info['epochs']} {acc_text} "
                f"writes {info['writes_total']:,} ({now - self._t0:.0f}s)")
        if self.tty:
            self.stream.write("\r" + text)
            if last_step and info["epoch"] == info["epochs"]:
                self.stream.write("\n")
            self.stream.flush()
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r")
        self.stream.write(text + "\n")
        self.stream.flush()
