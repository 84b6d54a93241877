"""Loads cowscope's live agent into every Python process started with this folder on PYTHONPATH:
PYTHONPATH=$(cowscope agent-path --runtime python) gunicorn --preload app:application

Python imports only the first sitecustomize module on sys.path, so the one this shadows (Debian's, a
virtualenv's, the site's) is run next, as it would have been. The agent itself (cowscope.start_live)
writes a heap map at the first fork of each process; see cowscope.py.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # what the shadowed module defined stays reachable as sitecustomize.NAME
    for name, value in vars(module).items():
        if not name.startswith("__"):
            globals().setdefault(name, value)


try:
    _chain()
finally:
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import cowscope

        cowscope.start_live()
    except Exception as e:  # the program runs whatever happens to the agent
        sys.stderr.write("cowscope agent: not loaded: %s: %s\n" % (type(e).__name__, e))
    finally:
        del sys.path[0]
