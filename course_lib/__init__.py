"""What lessons import: data, plots, the run-size switch and friendly checks."""

__version__ = "0.1.0"
