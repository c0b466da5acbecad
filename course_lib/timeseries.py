"""Real time series that statsmodels ships, so forecasting lessons need no download."""

from __future__ import annotations

import numpy as np

from course_lib.errors import DataError

SERIES = {
    "sunspots": "yearly mean sunspot number, 1700-2008",
    "co2": "weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001; the 59 missing weeks are filled "
    "by linear interpolation",
    "nile": "yearly flow of the Nile at Aswan (10^8 m^3), 1871-1970",
    "elnino": "monthly sea-surface temperature of the El Nino region (deg C), 1950-2010",
}


def series(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A real time series as ``(values, index)``: float64 values and their time stamps.

    ``name`` is one of `SERIES`. The index holds years (int64) for the yearly series,
    ``datetime64[D]`` days for co2 and ``datetime64[M]`` months for elnino.
    """
    if name not in SERIES:
        raise DataError(f"unknown series {name!r}; known: {', '.join(SERIES)}")
    try:
        from statsmodels import datasets as sm_datasets
    except ImportError as exc:
        raise DataError(
            f"Series {name!r} ships with statsmodels, which is not installed: `pip install statsmodels`."
        ) from exc
    if name == "sunspots":
        frame = sm_datasets.sunspots.load_pandas().data
        values, index = frame["SUNACTIVITY"].to_numpy(), frame["YEAR"].to_numpy()
    elif name == "nile":
        frame = sm_datasets.nile.load_pandas().data
        values, index = frame["volume"].to_numpy(), frame["year"].to_numpy()
    elif name == "co2":
        frame = sm_datasets.co2.load_pandas().data["co2"].interpolate(method="linear")
        values, index = frame.to_numpy(), frame.index.to_numpy().astype("datetime64[D]")
    else:  # elnino: one row per year, one column per month
        frame = sm_datasets.elnino.load_pandas().data
        values = frame.drop(columns="YEAR").to_numpy().ravel()
        first = f"{int(frame['YEAR'].iloc[0])}-01"
        index = np.arange(np.datetime64(first, "M"), np.datetime64(first, "M") + len(values))
    if name in ("sunspots", "nile"):
        index = index.astype(np.int64)
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise DataError(f"Series {name!r} has missing values; is statsmodels damaged?")
    return values, np.asarray(index)
