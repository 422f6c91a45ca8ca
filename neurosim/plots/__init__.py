"""Figures (matplotlib is imported lazily, inside each function)."""


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend (imported on first use: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


from .floorplan import plot_floorplan

__all__ = ["plot_floorplan", "pyplot"]
