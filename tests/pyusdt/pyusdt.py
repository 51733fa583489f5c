"""Turns on the pyusdt probes of _pyusdt (sys.monitoring, tool id 5; 3.12+)."""
import sys

import _pyusdt

TOOL = 5


def enable():
    m = sys.monitoring
    e = m.events
    m.use_tool_id(TOOL, "pyusdt")
    m.register_callback(TOOL, e.PY_START, _pyusdt.start)
    m.register_callback(TOOL, e.PY_THROW, _pyusdt.start)
    m.register_callback(TOOL, e.PY_RESUME, _pyusdt.resume)
    m.register_callback(TOOL, e.PY_RETURN, _pyusdt.ret)
    m.register_callback(TOOL, e.PY_UNWIND, _pyusdt.ret)
    m.register_callback(TOOL, e.PY_YIELD, _pyusdt.yield_)
    m.set_events(TOOL, e.PY_START | e.PY_THROW | e.PY_RESUME | e.PY_RETURN |
                 e.PY_UNWIND | e.PY_YIELD)
