"""Figure dicts as plotly.py's ``to_dict`` encodes them, without plotly.py's generic walk (pure, no streamlit).

plotly.py turns every numpy array that is a dict value into a plotly.js typed array (base64 ``bdata``).
Its own pass (``convert_to_base64``) asks of every value whether it is a numpy, pandas or xarray array and
passes each array through narwhals: about 0.1 ms per array, 10 ms for one surfaces figure. The figures
here hold only numpy arrays, so :func:`plotly_encoded` encodes them directly, to the same JSON
(tests/test_viz.py compares the two).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

#: Keys whose arrays plotly.py leaves as they are when it encodes a figure (``_plotly_utils.utils.is_skipped_key``).
_UNENCODED_KEYS = frozenset(("geojson", "layer", "layers", "range"))


def plotly_encoded(obj: Any) -> Any:
    """``obj`` (dicts, lists and numpy arrays) as ``go.Figure.to_dict`` would give it: arrays that are dict values
    become plotly.js typed arrays, containers are copied, arrays and ``obj`` itself are not changed."""
    return _encoded(obj, {})


def _encoded(obj: Any, memo: dict[int, Any]) -> Any:
    # A container that appears more than once (a slider's 150 steps share one dict of animation options) is
    # encoded once; ``memo`` keeps the originals alive through the walk, so no id is reused meanwhile.
    if isinstance(obj, dict):
        key = id(obj)
        if key not in memo:
            memo[key] = (obj, {k: v if k in _UNENCODED_KEYS else typed_array_spec(v) if isinstance(v, np.ndarray)
                               else _encoded(v, memo) for k, v in obj.items()})
        return memo[key][1]
    if isinstance(obj, (list, tuple)):
        # As plotly.py: an array directly inside a list stays an array; dicts inside are encoded.
        return [_encoded(v, memo) if isinstance(v, (dict, list, tuple)) else v for v in obj]
    return obj


#: plotly.js's typed-array names of the numpy dtypes it takes (``_plotly_utils.utils.plotlyjsShortTypes``).
_TYPED = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4", "float32": "f4",
          "float64": "f8"}


def typed_array_spec(v: np.ndarray) -> Any:
    """plotly.py's ``to_typed_array_spec`` for a numeric numpy array (its narrowing of 64-bit integers included);
    other arrays go to plotly.py's own function."""
    if v.dtype.kind not in "uif" or v.size == 0:
        from _plotly_utils.utils import to_typed_array_spec

        return to_typed_array_spec(v)
    if v.dtype.kind in "iu" and v.dtype.itemsize == 8:
        lo, hi = int(v.min()), int(v.max())
        for name in (("int8", "int16", "int32") if v.dtype.kind == "i" else ("uint8", "uint16", "uint32")):
            info = np.iinfo(name)
            if info.min <= lo and hi <= info.max:
                v = v.astype(name)
                break
        else:
            return np.ascontiguousarray(v)
    name = str(v.dtype)
    if name not in _TYPED:
        return np.ascontiguousarray(v)
    spec = {"dtype": _TYPED[name], "bdata": base64.b64encode(np.ascontiguousarray(v)).decode("ascii")}
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec
