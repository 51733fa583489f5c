# pylow in-process agent loader (agent/README.md).
#
# `pylow record --python=agent` puts the directory holding this file first on
# PYTHONPATH and sets PYLOW_AGENT_DIR.  site.py imports it at start-up; it
# loads _pylow_agent built for this Python (<this dir>/<major.minor>/), starts
# it, then runs the sitecustomize this one hides (the next one on sys.path).
# It never raises: a failure prints one line on stderr and the program runs
# unrecorded.  Kept Python 2 syntax-clean: a Python 2 child must not choke.


def _pylow_warn(msg):
    import os
    import sys
    try:
        sys.stderr.write("pylow agent: %s; pid %d not recorded\n" % (msg, os.getpid()))
        sys.stderr.flush()
    except Exception:
        pass


def _pylow_start(here):
    import os
    import sys
    if not os.environ.get("PYLOW_AGENT_DIR"):
        return
    ver = "%d.%d" % tuple(sys.version_info[:2])
    sub = os.path.join(here, ver)
    if not os.path.isdir(sub):
        _pylow_warn("no agent built for Python %s (%s)" % (ver, sys.executable))
        return
    sys.path.insert(0, sub)
    try:
        import _pylow_agent
    finally:
        try:
            sys.path.remove(sub)
        except ValueError:
            pass
    _pylow_agent.start()
    if _pylow_agent.SOURCE == "profile":
        # the profile hook (3.6-3.10; 3.11 with PYLOW_AGENT_HOOK=profile):
        # threads started later through `threading` install it
        import threading
        threading.setprofile(_pylow_agent._thread_hook)


def _pylow_chain(here):
    import os
    import sys
    rest = []
    seen = False
    for p in sys.path:
        try:
            same = os.path.abspath(p or os.curdir) == here
        except Exception:
            same = False
        if same:
            seen = True
        elif seen:
            rest.append(p)
    if not seen:
        return
    if sys.version_info[0] >= 3:
        import importlib.machinery
        import importlib.util
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is None or spec.loader is None:
            return
        mod = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = mod
        spec.loader.exec_module(mod)
    else:
        import imp
        try:
            f, path, desc = imp.find_module("sitecustomize", rest)
        except ImportError:
            return
        try:
            imp.load_module("sitecustomize", f, path, desc)
        finally:
            if f:
                f.close()


def _pylow_main():
    import os
    try:
        here = os.path.dirname(os.path.abspath(__file__))
    except Exception:
        return
    try:
        _pylow_start(here)
    except BaseException as e:
        _pylow_warn("%s: %s" % (type(e).__name__, e))
    try:
        _pylow_chain(here)
    except BaseException as e:
        import sys
        try:
            sys.stderr.write("Error in sitecustomize (chained by the pylow agent); %s: %s\n"
                             % (type(e).__name__, e))
        except Exception:
            pass


_pylow_main()
del _pylow_main, _pylow_start, _pylow_chain, _pylow_warn
