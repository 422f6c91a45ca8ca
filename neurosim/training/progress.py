"""Progress display of training runs (the CLI's view of a run while it goes; the results table is
:func:`neurosim.record.format_table`), drawn by tqdm: a bar on a terminal, periodic lines in CI logs, a widget in
notebooks."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class ProgressBar:
    """A training run's progress: steps done of all, cell writes so far, and the last test accuracy with the epoch
    it was measured after (it is measured at epoch ends, so it lags the writes by up to an epoch)."""

    def __init__(self, label: str, stream: TextIO | None = None, min_interval_s: float = 0.2):
        self.label = label
        self.stream = stream or sys.stderr
        self.min_interval_s = min_interval_s
        self._bar: Any = None
        self._epoch_of_accuracy = 0

    def _open(self, total: int) -> None:
        from tqdm.auto import tqdm

        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        # outside a terminal (CI logs), a line every 10 s rather than a redrawn bar
        self._bar = tqdm(total=total, desc=self.label, file=self.stream, unit="step", leave=True,
                         mininterval=self.min_interval_s if tty else 10.0, dynamic_ncols=True)

    def __call__(self, info: dict[str, Any]) -> None:
        if info.get("event") == "cells_failed":
            message = (f"{self.label}: epoch {info['epoch']}: {info['cells_failed']} cells have exhausted their "
                       "endurance and are stuck; training continues on the stuck cells")
            if self._bar is not None:
                self._bar.write(message, file=self.stream)
            else:
                print(message, file=self.stream)
            return
        total = info["epochs"] * info["steps_per_epoch"]
        if self._bar is None:
            self._open(total)
        done = (info["epoch"] - 1) * info["steps_per_epoch"] + info["step"]
        self._bar.update(done - self._bar.n)
        accuracy = info.get("test_accuracy")
        after = info.get("accuracy_after_epoch")
        postfix = {"writes": f"{info['writes_total']:,}"}
        if accuracy is not None and accuracy == accuracy:
            postfix["test acc"] = f"{100 * accuracy:.1f}%" + (f" (after epoch {after})" if after is not None else "")
        self._bar.set_postfix(postfix, refresh=False)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
