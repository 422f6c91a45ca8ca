"""matplotlib, imported on first use (plotting is optional and matplotlib is slow to import)."""


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
