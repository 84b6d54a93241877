"""The CPython side of a cowscope controlled fork (the Python twin of the Ruby agent, same protocol).

cowscope starts `python3 [options] -c "<bootstrap>" app.py args` with COWSCOPE_CONFIG (JSON) in the
environment and a control channel on an inherited file descriptor (JSON lines both ways). The
bootstrap puts this folder on sys.path and calls run_main(), which runs the program as __main__. At the
fork point (the end of the main script, or an explicit cowscope.fork_point()) this module:

  1. applies the fork strategy: named steps joined by + (none, gc, freeze, disable);
  2. writes the heap map from a throwaway child: the walk (gc.get_objects + gc.get_referents) changes
     reference counts, so it must not run in the parent; it unfreezes first (frozen objects are not
     returned by gc.get_objects);
  3. forks, back to back, a reference twin and N children, which all stop themselves (SIGSTOP);
  4. each child, when cowscope continues it (SIGCONT = go), runs the workload (--workload FILE.py in the
     program's __main__ namespace, else the function given to cowscope.workload), reports done and
     stops again so that cowscope can read it while it is quiescent;
  5. the parent waits for `release`, kills and reaps everyone and leaves with os._exit.

Everything the agent starts dies with cowscope: PR_SET_PDEATHSIG (SIGKILL) is set in the parent at
start and in every process it forks. Standard library only. Outside cowscope, fork_point() and
workload() are no-ops, so a program may call them unconditionally.
"""

import bisect
import ctypes
import gc
import itertools
import json
import os
import platform
import signal
import sys
import time
import types

# The control protocol's version: cowscope's driver (AGENT_PROTOCOL) must match.
PROTOCOL = 2
PR_SET_PDEATHSIG = 1
# The most request marks a child sends in "done" (the driver's REQUEST_MARKS)
REQUEST_MARKS = 64
# The most collections whose start and stop a child reports (the driver's GC_WINDOWS)
GC_WINDOWS = 1024
# pymalloc's pool size on 64-bit builds with the radix tree (the default), and its block alignment
POOL_SIZE = 16384
ALIGNMENT = 16

try:
    CONFIG = json.loads(os.environ.get("COWSCOPE_CONFIG", "{}"))
except ValueError:
    CONFIG = {}

_state = {"forked": False, "workload": None}


def active():
    return "fd" in CONFIG


def workload(fn):
    """Registers the function each child runs after the fork (when cowscope got no --workload file).
    Returns fn, so it also works as a decorator. A function a child could not call (not callable, or one
    that needs arguments) is refused here, at the line that registers it, not in every child; without
    cowscope this only returns fn."""
    if not active():
        return fn
    if not callable(fn):
        raise TypeError("cowscope.workload takes the function each child runs, not %s %.60r" % (type(fn).__name__, fn))
    missing = _required_arguments(fn)
    if missing:
        raise TypeError("cowscope.workload: each child calls %s() with no arguments: missing a required argument: %r" % (getattr(fn, "__name__", "the workload"), missing[0]))
    _state["workload"] = fn
    return fn


def _required_arguments(fn):
    """The arguments a call of fn with none would lack, from its code object: a Python function or a
    method bound to one; [] for any other callable (a builtin, a partial, an object with __call__),
    whose call will tell. Not inspect.signature: importing inspect here, after a program's gc.freeze(),
    would leave the modules it loads unfrozen in the parent, and the children's collections would copy
    their pages, the agent's doing blamed on the program (py.gc.freeze-missing)."""
    skip = 0
    if isinstance(fn, types.MethodType):
        fn, skip = fn.__func__, 1
    if not isinstance(fn, types.FunctionType):
        return []
    code = fn.__code__
    positional = code.co_varnames[: code.co_argcount]
    required = list(positional[skip : len(positional) - len(fn.__defaults__ or ())])
    keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    return required + [k for k in keyword_only if k not in (fn.__kwdefaults__ or {})]


def fork_point():
    """Forks here instead of at the end of the main script. Does not return in the parent when cowscope
    is driving (the parent waits for release and exits); a no-op otherwise."""
    if not active() or _state["forked"] or not _program_process():
        return
    _state["forked"] = True
    try:
        _run_fork_sequence()
    except HeapMapError as e:  # the agent's own failure: one line from cowscope, no traceback of the agent
        _report("error", error=_clip("%s: %s" % (type(e).__name__, e)), where=_clip(e.where))
        _flush_output()
        os._exit(1)
    except BaseException as e:  # cowscope must hear why, whatever it is
        _report("error", error=_clip("%s: %s" % (type(e).__name__, e)), where=_clip(_where(e)))
        raise


# ---- the channel and process plumbing ----


def _report(event, **fields):
    msg = {"event": event, "pid": os.getpid()}
    msg.update(fields)
    data = (json.dumps(msg) + "\n").encode()
    fd = int(CONFIG["fd"])
    while data:
        data = data[os.write(fd, data):]


def _flush_output():
    """The program's buffered output (sys.stdout is block-buffered on a pipe), before a process leaves
    with os._exit (the parent once released, a child after an error), which would drop it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass  # closed or broken: nothing to keep


def _output_before_fork():
    """In the parent, just before the twin and the children: what it printed goes out now (a child
    would otherwise inherit it and print it again), and stdout becomes line-buffered, so what a child's
    workload prints is written line by line as it prints it. cowscope kills a child once it has read it,
    and a flush called in the child afterwards would write to shared pages (the stream objects'
    reference counts). Not write-through either (PYTHONUNBUFFERED, -u): print() then writes each
    argument and separator by itself, and the children's lines interleave; one write(2) per line keeps
    them whole."""
    _flush_output()
    try:
        if not sys.stdout.line_buffering or sys.stdout.write_through:
            sys.stdout.reconfigure(line_buffering=True, write_through=False)
    except Exception:
        pass  # not a TextIOWrapper (the program replaced it): left as the program set it


def _clip(text):
    text = str(text)
    return text[:4000] + "..." if len(text) > 4000 else text


_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))


def _where(e):
    """Where an exception was raised, as file:line: the innermost frame of the program's own code, not
    this agent's or the import machinery's (an error the agent raises for a wrong call points at the
    call); the innermost frame when every frame is theirs."""
    # A SyntaxError in the program is raised by the compile the agent called: the program's file and line
    # are the error's own (QA: a script that did not parse was named by the agent's line)
    if isinstance(e, SyntaxError) and e.filename and e.lineno and not e.filename.startswith("<"):
        return "%s:%d" % (e.filename, e.lineno)
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    if not frames:
        return ""
    def theirs(f):
        name = f.tb_frame.f_code.co_filename
        # <frozen importlib._bootstrap>, the bootstrap's <string>; this folder: the agent, sitecustomize
        return name.startswith("<") or os.path.dirname(os.path.abspath(name)) == _AGENT_DIR

    last = next((f for f in reversed(frames) if not theirs(f)), frames[-1])
    return "%s:%d" % (last.tb_frame.f_code.co_filename, last.tb_lineno)


# The C functions a helper fork calls, resolved here, in the parent: ctypes makes a function object on a
# library's first lookup of a name and keeps it on the library, where a heap map made in a helper would
# list it as an object of the parent's.
_prctl = ctypes.CDLL(None).prctl
_fork = ctypes.PyDLL(None, use_errno=True).fork


def _set_pdeathsig():
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _die_with_parent(parent):
    """In a process the agent forked: SIGKILL when the parent dies (delivered to a stopped process
    too); leave at once if the parent died before that was set."""
    _set_pdeathsig()
    if os.getppid() != parent:
        os._exit(1)


def _gc_runs():
    return sum(s["collections"] for s in gc.get_stats())


def _threads_now():
    threading = sys.modules.get("threading")
    if threading is None:
        return [{"name": "main", "status": "run"}]
    return [{"name": "main" if t is threading.main_thread() else t.name, "status": "run" if t.is_alive() else "dead"} for t in threading.enumerate()]


# ---- the program ----


def _main_module(script):
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    return main


def _program_process():
    """The program's own process, not one it forked before the fork point (a preforking server's
    worker, a helper): those end as they would without cowscope (their exits and errors are theirs), and
    never reach the fork point."""
    return os.getpid() == _state.get("program_pid")


def _hello():
    _state["program_pid"] = os.getpid()
    cowscope_pid = int(CONFIG.get("cowscopePid", 0))
    _set_pdeathsig()
    if cowscope_pid > 0 and not _alive(cowscope_pid):
        os._exit(1)  # cowscope died before the line above: nobody would ever release us
    _report("hello", protocol=PROTOCOL, python=platform.python_version())
    # The interpreter may start with a permanent generation of its own (3.12 does): only what the
    # program or the strategy froze beyond it is theirs.
    _state["frozen_at_start"] = gc.get_freeze_count()


def run_main():
    """The bootstrap's entry: hello, run the script as __main__, then fork at its end."""
    _hello()
    argv = sys.argv[1:]
    script = os.path.abspath(argv[0])
    sys.argv = argv
    sys.path[0] = os.path.dirname(script)
    main = _main_module(script)
    _state["main"] = main
    try:
        with open(script, "rb") as f:
            code = compile(f.read(), script, "exec")
        exec(code, main.__dict__)
    except SystemExit as e:
        if not _state["forked"] and _program_process():
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            _report("exited", status=status, where=_clip(_where(e)))
        raise
    except BaseException as e:
        if not _state["forked"] and _program_process():
            _report("error", error=_clip("%s: %s" % (type(e).__name__, e)), where=_clip(_where(e)))
        raise
    fork_point()


def wsgi_main():
    """`cowscope run --wsgi module:app`: the bootstrap's entry for a WSGI app. The parent imports the
    module (the working directory first on sys.path, as gunicorn has it) and takes the callable: that is
    the preload. Each child then sends the requests through the callable in-process."""
    _hello()
    spec = CONFIG["wsgi"]
    sys.argv = [spec]
    sys.path.insert(0, os.getcwd())
    try:
        app = _wsgi_app(spec)
    except _WsgiSpecError as e:  # the app named is not there: cowscope's one line names the fix
        _report("error", error=_clip(str(e)), usage=True)
        os._exit(1)
    except BaseException as e:
        if not _program_process():
            raise  # a process the app forked as it was imported: it ends as it would have
        _report("error", error=_clip("%s: %s" % (type(e).__name__, e)), where=_clip(_where(e)))
        os._exit(1)  # cowscope says why in one line; no traceback on top
    _state["workload"] = lambda: _serve_wsgi(app)
    fork_point()


class _WsgiSpecError(Exception):
    """The WSGI app named is none: no such module in the working folder, no such attribute, or one that
    is not callable (a usage error, not the program's). cowscope puts where it was named in front."""


def _wsgi_app(spec):
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        # the module itself (or a package on its path) is not there: say where it was looked for; a module
        # the app imports that is missing is the app's own error
        if e.name is None or not (module_name == e.name or module_name.startswith(e.name + ".")):
            raise
        raise _WsgiSpecError("no module %s in %s, the working folder the app is imported from (as gunicorn does)" % (e.name, os.getcwd())) from None
    for part in (attr or "application").split("."):
        if not hasattr(obj, part):
            raise _WsgiSpecError("module %s (%s) has no %s: name its WSGI callable, as gunicorn takes it (%s:application)" % (module_name, getattr(sys.modules.get(module_name), "__file__", "?"), attr or "application", module_name))
        obj = getattr(obj, part)
    if not callable(obj):
        raise _WsgiSpecError("a %s, not a WSGI callable: name the app object (gunicorn's module:app)" % type(obj).__name__)
    return obj


def _wsgi_environ(method, path_qs):
    """A WSGI environ (PEP 3333) for a request without a body, as a server on localhost:80 makes it."""
    import io
    from urllib.parse import unquote

    path, _, query = path_qs.partition("?")
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # decoded, as a server passes it (PEP 3333: bytes as latin-1); the query string stays as sent
        "PATH_INFO": unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "0",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _serve_wsgi(app):
    """CONFIG's requests ("METHOD /path?query"), requestCount times over, each through app: the body
    iterable consumed and closed. A status other than 2xx or 3xx ends the workload with an error."""
    requests = [r.split(" ", 1) for r in CONFIG["requests"]]
    total = int(CONFIG["requestCount"]) * len(requests)
    # Request marks for the copied-pages-against-requests curve, as the Ruby agent keeps them: [served,
    # CLOCK_MONOTONIC µs] at up to REQUEST_MARKS evenly spaced requests, the last always.
    every = max((total + REQUEST_MARKS - 1) // REQUEST_MARKS, 1)
    marks = []
    _state["requestMarks"] = marks
    _state["requests"] = 0
    for _ in range(int(CONFIG["requestCount"])):
        for method, path in requests:
            status = []

            def start_response(s, headers, exc_info=None):
                status[:] = [s]
                return lambda data: None

            body = app(_wsgi_environ(method, path), start_response)
            try:
                for _chunk in body:
                    pass
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            code = status[0].split(" ", 1)[0] if status else "none"
            if not code.startswith(("2", "3")):
                raise RuntimeError("%s %s answered %s" % (method, path, status[0] if status else "without calling start_response"))
            _state["requests"] += 1
            served = _state["requests"]
            if served % every == 0 or served == total:
                marks.extend((served, time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))


def _run_fork_sequence():
    _report(
        "fork_point",
        python=platform.python_version(),
        platform="%s-%s" % (platform.machine(), sys.platform),
        engine=sys.implementation.name,
        heapPageSize=POOL_SIZE,
        slotSize=ALIGNMENT,
        threads=_threads_now(),
        osThreads=len(os.listdir("/proc/self/task")),
        gcCount=_gc_runs(),
    )
    _apply_strategy(CONFIG.get("strategy", "none"))
    _write_heap_map(CONFIG["heapMap"])
    _wait_for_release(_fork_family(int(CONFIG["children"])))


# ---- strategies: steps joined by +, applied in order ----


def _step_none():
    return "none"


def _step_gc():
    gc.collect()
    return "gc"


def _step_freeze():
    # The gc documentation's recipe: collect first, so that garbage is not frozen with the rest.
    gc.collect()
    gc.freeze()
    return "freeze"


def _step_disable():
    gc.disable()
    return "disable"


# glibc: a malloc no bin holds (64 MiB: past its largest dynamic mmap threshold, so mmapped and unmapped
# again, the program's malloc tuning unchanged) sorts up to 10,000 chunks of the unsorted bin (MAX_ITERS).
_SORT_REQUEST = 64 << 20
_SORTED_PER_MALLOC = 10000


def _step_trim():
    # malloc_trim(0) returns the whole pages inside free chunks to the kernel. Then the chunks freed since
    # glibc last sorted its unsorted bin are sorted here, once: left for after the fork, every child's
    # first mallocs that no tcache or small bin serves sort them, rewriting each one's links, a page
    # copied per chunk (malloc.bin-sort). malloc_trim does not sort.
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim(0)
    for _ in range(-(-_unsorted_chunks(libc) // _SORTED_PER_MALLOC)):
        libc.free(libc.malloc(_SORT_REQUEST))
    return "trim"


def _unsorted_chunks(libc):
    """The main arena's unsorted chunks, from malloc_info's XML (written to a memory stream)."""
    libc.open_memstream.restype = ctypes.c_void_p
    libc.open_memstream.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    text = ctypes.c_void_p()
    size = ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
    if not stream:
        return 0
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    xml = ctypes.string_at(text.value, size.value).decode("ascii", "replace")
    libc.free(text.value)
    heap = xml.split('<heap nr="0">', 1)[-1].split("</heap>", 1)[0]
    marker = heap.find("<unsorted ")
    if marker < 0:
        return 0
    count = heap[marker:].split('count="', 1)[1].split('"', 1)[0]
    return int(count)


STRATEGY_STEPS = {"none": _step_none, "gc": _step_gc, "freeze": _step_freeze, "disable": _step_disable, "trim": _step_trim}


def _apply_strategy(spec):
    started = time.monotonic()
    steps = []
    for name in spec.split("+"):
        if name not in STRATEGY_STEPS:
            raise ValueError("unknown strategy step %s (known: %s)" % (name, ", ".join(STRATEGY_STEPS)))
        t = time.monotonic()
        label = STRATEGY_STEPS[name]()
        steps.append({"name": name, "label": label, "seconds": time.monotonic() - t})
    _report("strategy", name=spec, label="+".join(s["label"] for s in steps), steps=steps, seconds=time.monotonic() - started)


# ---- the heap map ----


def _layouts():
    """cowscope's version table (runtimes/python/layouts.ts): passed in the config under cowscope run; in
    live mode, its copy beside this file (layouts.json, which a test keeps equal to the table)."""
    if "layouts" in CONFIG:
        return CONFIG["layouts"]
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "layouts.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def _layout():
    """This version's row of the table: where a code object's adaptive bytecode starts, where the type
    attribute cache is. None outside it."""
    here = "%d.%d" % sys.version_info[:2]
    return next((row for row in _layouts() if row.get("version") == here), None)

HAVE_GC = 1 << 14
# Py_TPFLAGS_TYPE_SUBCLASS: the object is a type (its type is type or a metaclass)
TYPE_SUBCLASS = 1 << 31
# Py_TPFLAGS_LONG_SUBCLASS: an int of a subclass (bool, IntEnum, IntFlag members)
LONG_SUBCLASS = 1 << 24
# the fields of a code object the heap map walks to (what it holds that no tp_traverse reports)
_CODE_FIELDS = ("co_consts", "co_names", "co_filename", "co_name", "co_qualname", "co_linetable", "co_exceptiontable")
MANAGED_DICT = 1 << 4
MANAGED_WEAKREF = 1 << 3
HEAPTYPE = 1 << 9
# Py_TPFLAGS_UNICODE_SUBCLASS, Py_TPFLAGS_BYTES_SUBCLASS: str and bytes and every subclass of them (3.8-3.13).
# A subclass's instance keeps its base's header, with the words CPython fills lazily (the hash; a str's
# UTF-8 form): the map names the base, since the type's own name is the program's (Django's SafeString,
# markupsafe's Markup, a StrEnum). Py_TPFLAGS_DICT_SUBCLASS and Py_TPFLAGS_LIST_SUBCLASS likewise: a
# Counter, an OrderedDict, a defaultdict or a list subclass changed is the program changing a dict or a
# list (QA: 20,000 Counters updated in the child, their version tags 393-472 pages a child named
# py.mutation.object by the type's own name).
_BASE_FLAGS = (("str", 1 << 28), ("bytes", 1 << 27), ("dict", 1 << 29), ("list", 1 << 25))


def _base_of(flags):
    """The _BASE_FLAGS name a type's flags carry, or "" (a function of its own: a generator in the walk
    would make its locals cells, objects of the walk's own from its start)."""
    for name, bit in _BASE_FLAGS:
        if flags & bit:
            return name
    return ""


# C types that cache their hash in the object on first use (-1 until then), and the field's byte offset:
# the same on 3.8-3.13 (PySetObject.hash; the hashcode of _datetime's date, time, datetime and timedelta;
# PyDecObject.hash; PyWeakReference.hash, which the abc module's isinstance caches compute on classes'
# weak references; PyMemoryViewObject.hash). Known by identity, so a class of the program named so is not
# taken for one; their subclasses keep the field where it is.
_HASH_CACHES = (
    ("builtins", "frozenset", 48),
    ("_datetime", "date", 16),
    ("_datetime", "time", 16),
    ("_datetime", "datetime", 16),
    ("_datetime", "timedelta", 16),
    ("_decimal", "Decimal", 16),
    ("_weakref", "ReferenceType", 32),
    ("builtins", "memoryview", 32),
)


def _hash_cache_words():
    """{id(type): offset} of the _HASH_CACHES types whose module is loaded (none is imported here)."""
    out = {}
    for module, name, offset in _HASH_CACHES:
        m = sys.modules.get(module)
        t = m.__dict__.get(name) if isinstance(m, types.ModuleType) else None
        if type(t) is type:
            out[id(t)] = offset
    return out


# Types whose instances hold a variable part that ob_size does not count (3.11+: a generator's, a
# coroutine's or a frame's embedded frame; what is at +16 is a pointer): their own __sizeof__, C code of
# the interpreter's, gives the extent. Read as basicsize + itemsize * (the word at +16), a generator
# spanned petabytes and took every later word of the heap for its own.
# By id: comparing types with == would run a metaclass's __eq__.
_SIZED_BY_SIZEOF = {id(t) for t in (types.GeneratorType, types.CoroutineType, getattr(types, "AsyncGeneratorType", None), types.FrameType) if t is not None}


def _u64(addr):
    return ctypes.c_uint64.from_address(addr).value


def _u8(addr):
    return ctypes.c_uint8.from_address(addr).value


# A deque's block (3.5-3.13): leftlink, BLOCKLEN (64) item pointers, rightlink; malloc'd one by one.
# struct _odictnode: key, hash, next, prev
_ODICT_NODE = 32
# glibc's sem_t (x86-64): what PyThread_allocate_lock mallocs for a lock
_SEM_BYTES = 32
_DEQUE_BLOCK = 8 + 64 * 8 + 8


def _deque_blocks(o, i, basicsize):
    """The blocks of a deque, left to right: leftblock at +24, rightblock at +32 (after the object's
    header and size), each block's rightlink at +520. Only when deque's own __sizeof__ counts as many
    blocks of that size and the links lead from the left block to the right one in that many steps
    (another layout yields nothing, and reads no link it cannot trust)."""
    extra = type(o).__sizeof__(o) - basicsize
    if extra <= 0 or extra % _DEQUE_BLOCK:
        return []
    count = extra // _DEQUE_BLOCK
    block, right = _u64(i + 24), _u64(i + 32)
    blocks = []
    while block and block % 16 == 0 and len(blocks) < count:
        blocks.append(block)
        if block == right:
            break
        block = _u64(block + _DEQUE_BLOCK - 8)
    return blocks if len(blocks) == count and blocks[-1] == right else []


def _keys_size(keys):
    """Bytes of a PyDictKeysObject: header, index table, entries (24 B, 16 B for unicode-only keys).
    3.8-3.10: a header of five words (dk_size the second), an index of 1-8 byte entries, 24 B entries."""
    if sys.version_info < (3, 11):
        size = _u64(keys + 8)
        width = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4 if size <= 0xFFFFFFFF else 8
        return 40 + width * size + 24 * ((size << 1) // 3)
    log2 = _u8(keys + 8)
    log2_index = _u8(keys + 9)
    kind = _u8(keys + 10)
    usable = ((1 << log2) << 1) // 3
    return 32 + (1 << log2_index) + (24 if kind == 0 else 16) * usable


def _maps():
    """This process's mappings: (start, end, permissions, path) in address order."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


def _mapped_in(maps):
    """A test of whether n bytes at an address lie in one readable mapping of maps (_maps()): checked
    before a word read from memory is followed, so that no read faults."""
    readable = [(m[0], m[1]) for m in maps if m[2].startswith("r")]
    starts = [m[0] for m in readable]

    def mapped(addr, n):
        j = bisect.bisect_right(starts, addr) - 1
        return j >= 0 and addr + n <= readable[j][1]

    return mapped


def _interned_dict():
    """The address of the interpreter's dict of interned strings (each key maps to itself), or 0. No
    object refers to it and the collector does not track it (it holds str only), so the walk never
    meets it; its one pointer is in the interpreter's own data: a static of unicodeobject.c (3.8-3.11),
    _PyRuntime's cached objects (3.12), the main interpreter's state inside _PyRuntime (3.13). Found as
    the word of the writable segments (data, and the bss after them) of the file holding
    PyUnicode_InternInPlace that points at a dict mapping a name this module's code interned, and every
    key sampled, to itself. Each candidate's words are checked mapped before it is read as a dict: a
    stale pointer to a freed dict is never followed."""
    try:
        maps = _maps()
        intern_fn = ctypes.cast(ctypes.pythonapi.PyUnicode_InternInPlace, ctypes.c_void_p).value
        home = next((m[3] for m in maps if m[0] <= intern_fn < m[1]), "")
        if not home.startswith("/"):
            return 0
        spans = [
            (m[0], m[1])
            for k, m in enumerate(maps)
            if m[2].startswith("rw") and (m[3] == home or (not m[3] and k and maps[k - 1][3] == home and maps[k - 1][1] == m[0]))
        ]
        mapped = _mapped_in(maps)
        dict_type = id(dict)
        # a key of this module's dict: interned when this file was compiled, not one of 3.13's static strings
        probe = next(k for k in globals() if k == "_interned_dict")
        for start, end in spans:
            for x in memoryview(ctypes.string_at(start, end - start)).cast("Q"):
                if x & 7 or x < 65536 or not mapped(x, 48) or _u64(x + 8) != dict_type:
                    continue
                refs, keys = _u64(x), _u64(x + 32)
                if not (0 < refs < 1 << 62 and keys and mapped(keys, 48)):
                    continue
                d = ctypes.cast(x, ctypes.py_object).value
                if d.get(probe) is probe and all(type(k) is str and k is v for k, v in itertools.islice(d.items(), 64)):
                    return x
    except Exception:
        pass
    return 0


def _data_stack():
    """3.11+: the chunks of this thread's frame stack (_PyStackChunk: previous, size, top, then the
    frames; each an mmap of a power of two from 16 KiB), as (start, bytes) pairs; [] before 3.11, where
    frames are objects, or where the chunk is not found. Frames of a forked worker's calls go on the
    chunk the fork-time image holds (the VM's stack: every page they reach is copied). Found from the
    running frame (PyFrameObject's f_frame, +24 on 3.11-3.13): the page-aligned start at or below it
    whose size word spans it, then the previous links."""
    if sys.version_info < (3, 11):
        return []
    try:
        mapped = _mapped_in(_maps())
        frame = _u64(id(sys._getframe()) + 24)
        if not mapped(frame, 8):
            return []
        start = frame & ~4095
        for _ in range(1024):
            size = _u64(start + 8) if mapped(start, 24) else 0
            if size >= 16384 and size & (size - 1) == 0 and start + size > frame and _u64(start + 16) <= size // 8:
                break
            start -= 4096
        else:
            return []
        chunks = []
        while start and mapped(start, 24) and len(chunks) < 64:
            size = _u64(start + 8)
            if not (size >= 16384 and size & (size - 1) == 0 and mapped(start, size)):
                break
            chunks.append((start, size))
            start = _u64(start)
        return chunks
    except Exception:
        return []


def _cached_keys_offset():
    """Byte offset of ht_cached_keys in a heap type (PyHeapTypeObject): the keys table a class's instances
    share (their attribute names; 3.11+ a split table), filled as instances first set attributes. The word
    after ht_qualname on 3.8-3.13 (ht_name, ht_slots, ht_qualname, ht_cached_keys): found in a class made
    here, by its name's and qualified name's ids. 0 where they are not found."""

    class _Probe:
        pass

    t, name, qualname = id(_Probe), id(_Probe.__name__), id(_Probe.__qualname__)
    for off in range(16, type.__basicsize__ - 8, 8):
        if _u64(t + off) == qualname and _u64(t + off - 16) == name:
            return off + 8
    return 0


def _pre_header(flags, version):
    """Bytes before id(o) that belong to the object: the GC head (16), and on 3.11 the managed dict and
    values pointers (16); 3.12/3.13 keep two words there for a managed dict or weakref list."""
    pre = 16 if flags & HAVE_GC else 0
    if version == (3, 11):
        pre += 16 if flags & MANAGED_DICT else 0
    elif flags & (MANAGED_DICT | MANAGED_WEAKREF):
        pre += 16
    return pre


def _values_array(o, i, version):
    """3.11/3.12: an instance's attribute values live in an array of their own (PyMem_Malloc), which its
    pre-header points to until a __dict__ is made: (start, bytes), or None. The array is prefixed by its
    insertion order, the prefix's size in the byte before the values; its capacity is that of the class's
    shared keys (dk_usable + dk_nentries), no more than the prefix holds. Asking for __dict__ makes the
    dict, in this helper fork only."""
    if version == (3, 11):
        values = _u64(i - 32)
    else:
        raw = _u64(i - 24)  # a dict, or the values tagged by one subtracted
        values = raw + 1 if raw & 1 else 0
    if not values:
        return None
    prefix = _u8(values - 1)
    keys = _u64(id(object.__getattribute__(o, "__dict__")) + 32)
    capacity = min(_u64(keys + 16) + _u64(keys + 24), prefix - 2)
    return (values - prefix, prefix + 8 * capacity) if 0 < capacity and prefix >= 8 else None


# The most tracked objects _garbage looks through (1.5-2.2 s here): past it the map says it did not look.
_GARBAGE_SEARCH_LIMIT = 500000


def _garbage():
    """The ids of what a full collection at the fork would free: the tracked objects of the collector's
    generations that nothing outside them reaches (reference cycles the program dropped), and the objects
    only those refer to (their ints and strings); None when the generations hold more than
    _GARBAGE_SEARCH_LIMIT objects (the search would add seconds to the map). A child that runs a full collection frees them, writing
    their pages; a collection before the fork (the gc and freeze strategies) would have, in the parent.
    Found as the collector finds them: each count less the references among those objects; what those
    with some left reach is alive. Not by collecting: a collection would run their finalizers and
    weakref callbacks, the program's code, in this helper fork. Checked against gc.collect() with
    DEBUG_SAVEALL on 3.8-3.13 (the same objects). 3-4.5 us a tracked object on the 2-CPU machine it was
    made on (690,000: 2.1 s in a process, 3.1 s in a fork, whose first writes copy pages)."""
    objs = gc.get_objects()  # the generations' objects: frozen ones are never collected
    if len(objs) > _GARBAGE_SEARCH_LIMIT:
        return None
    getrefcount = sys.getrefcount
    get_referents = gc.get_referents
    outside = {}
    for o in objs:
        # less the references held here: objs' item, the loop's name, the argument
        outside[id(o)] = getrefcount(o) - 3
    for o in objs:
        for r in get_referents(o):
            k = id(r)
            if k in outside:
                outside[k] -= 1
    stack = [o for o in objs if outside[id(o)] > 0]
    reached = set(map(id, stack))
    while stack:
        for r in get_referents(stack.pop()):
            k = id(r)
            if k in outside and k not in reached:
                reached.add(k)
                stack.append(r)
    work = [o for o in objs if id(o) not in reached]
    del objs, reached
    dying = set(map(id, work))
    # An object outside the generations (untracked, or frozen) dies with the garbage when all its
    # references come from dying objects. One referred to twice by one object is left out (the count
    # below assumes one reference from the list get_referents made): it stays unnamed, never misnamed.
    counted = {}
    held = {}
    while work:
        for r in get_referents(work.pop()):
            k = id(r)
            if k in dying or k in outside:
                continue
            n = counted[k] = counted.get(k, 0) + 1
            held[k] = r
            # less held's reference, get_referents' list's, the loop's name and the argument
            if n == getrefcount(r) - 4:
                dying.add(k)
                work.append(r)
    return dying


def _walk(out):
    """Every object reachable from the GC's lists and sys.modules, one line each:
      T <index> <type name> [<hash offset> [<base>]]
                                               (a type name, before its first use; for a type that
                                                caches its hash in the object, the field's offset
                                                (else 0); for str, bytes, dict, list and their
                                                subclasses, which of them: _BASE_FLAGS)
      O <addr> <pre> <size> <state> <type>     (state: 1 tracked, 2 frozen at the fork, 4 a type,
                                                8 in a young generation (0 or 1) at the fork,
                                                16 garbage at the fork: _garbage)
      C <addr> <start> <bytes>                 (a code object's adaptive bytecode)
      B <start> <bytes> <kind> <owner addr>    (an out-of-line buffer: dict keys (a class's shared
                                                keys too, once), list items, an
                                                instance's attribute values on 3.11/3.12, a
                                                bytearray's bytes, a set's table, an array.array's
                                                bytes, a deque's blocks, a BytesIO's bytes object,
                                                a ctypes object's memory, an mmap's mapping)
      R <start> <bytes> <kind>                 (interpreter state: typecache; the interned strings'
                                                dict and its keys table: interned; 3.11+ the
                                                frame stack's chunks: datastack)
      E <objects> <frozen> <frozen at start> <gc counters> <unsought>
                                               (gc.get_freeze_count() at the fork and at the start;
                                                live maps: the collection counters' address; the
                                                tracked objects not searched for garbage, 0 when
                                                they were)
    Addresses in hex. The walk keeps every object alive, so ids stay distinct."""
    garbage = _garbage()
    unsought = 0 if garbage is not None else len(gc.get_objects())
    garbage = garbage or set()
    frozen_count = gc.get_freeze_count()
    before = set(map(id, gc.get_objects())) if frozen_count else None
    young = set(map(id, gc.get_objects(0))) | set(map(id, gc.get_objects(1)))
    gc.unfreeze()
    roots = gc.get_objects()
    # Everything the walk makes comes after this line: what it made before would be listed with the
    # roots (so the walk has no closure either: its frame's cells exist from its start).
    version = sys.version_info[:2]
    stack = roots + list(sys.modules.values())
    seen = {}
    mine = {id(roots), id(stack), id(seen), id(before), id(young), id(garbage)}
    # The walk runs in a helper fork: the file it writes to (a buffer over a raw file) exists only there,
    # in memory the fork-time image holds free. A binary file: a text layer would keep an encoder, a
    # tracked object no attribute names, which the walk would list as the program's (found on a worker
    # whose new objects took its block: the encoder's fields "changed", 1 page py.mutation.object).
    f = out
    while f is not None and id(f) not in mine:
        mine.add(id(f))
        f = getattr(f, "raw", None)
    layout = _layout()
    adaptive = layout["codeAdaptive"] if layout else None
    code_type = types.CodeType
    while stack:
        o = stack.pop()
        i = id(o)
        if i in seen or i in mine:
            continue
        seen[i] = o
        t = type(o)
        if id(t) not in seen:
            stack.append(t)
        try:
            stack.extend(gc.get_referents(o))
            # a dict whose keys are all str (3.11+: DK_IS_UNICODE) does not visit them: a str cannot be
            # part of a cycle. Their refcounts change whenever the dict is iterated.
            if issubclass(t, dict):
                stack.extend(dict.keys(o))
        except Exception:
            pass
        if t is code_type:
            # 3.11 code objects have no tp_traverse; co_code and co_varnames would make new objects, and
            # so would co_lnotab where co_linetable holds the table (3.10+). Fields a version lacks
            # (co_qualname and co_exceptiontable are 3.11's) are skipped: the walk runs on any Python 3.
            for f in _CODE_FIELDS:
                if hasattr(o, f):
                    stack.append(getattr(o, f))
            if not hasattr(o, "co_linetable"):
                stack.append(o.co_lnotab)
    # lines made as str, written as bytes
    def w(line, write=out.write):
        write(line.encode())

    names = {}  # (name, hash offset, base) -> index: one T line each
    index_of = {}  # id(type) -> index
    hash_words = _hash_cache_words()
    type_mro = type.__dict__["__mro__"].__get__
    # An object is classified by its type alone, read through type's own descriptors: isinstance() asks
    # the object for __class__, which runs the program's code (a lazy object's property sets it up, or
    # raises), raises ReferenceError for a weakref proxy whose referent is gone, and answers the origin's
    # class for a types.GenericAlias on 3.9 and 3.10 (list[int] was "a type")
    type_flags = type.__dict__["__flags__"].__get__
    type_basicsize = type.__dict__["__basicsize__"].__get__
    type_itemsize = type.__dict__["__itemsize__"].__get__
    type_name = type.__dict__["__name__"].__get__
    # a static type (in the interpreter's or an extension's data) is a PyTypeObject, not the heap type's
    # larger struct that type's basicsize gives (a word past its end belongs to the next static object)
    static_type_size = type.__sizeof__(object)
    int_sizeof = int.__sizeof__
    # array.array's buffer, where the program uses the module (the walk imports nothing)
    array_type = getattr(sys.modules.get("array"), "array", None)
    deque_type = getattr(sys.modules.get("collections"), "deque", None)
    odict_type = getattr(sys.modules.get("_collections"), "OrderedDict", None)
    bytesio_type = getattr(sys.modules.get("io"), "BytesIO", None)
    stringio_type = getattr(sys.modules.get("io"), "StringIO", None)
    mmap_type = getattr(sys.modules.get("mmap"), "mmap", None)
    # (no generator or lambda here: a closure's cell would be an object of the walk's own in the map)
    thread_module = sys.modules.get("_thread")
    lock_types = []
    for name in ("LockType", "RLock"):
        if isinstance(getattr(thread_module, name, None), type):
            lock_types.append(getattr(thread_module, name))
    lock_types = tuple(lock_types)
    io_module = sys.modules.get("_io")
    buffered_types = []
    for name in ("BufferedReader", "BufferedWriter", "BufferedRandom"):
        if isinstance(getattr(io_module, name, None), type):
            buffered_types.append(getattr(io_module, name))
    buffered_types = tuple(buffered_types)
    cdata_type = ctypes.c_char.__mro__[-2]  # _ctypes._CData, every ctypes instance's base
    cached_keys_at = _cached_keys_offset()
    # a keys table shared by a class and the split dicts of its instances goes into the map once
    keys_written = set()
    for i, o in seen.items():
        t = type(o)
        flags = type_flags(t)
        if t is str or t is int:
            size = sys.getsizeof(o) - (16 if flags & HAVE_GC else 0)
        elif flags & TYPE_SUBCLASS and not type_flags(o) & HEAPTYPE:
            size = static_type_size
        elif flags & LONG_SUBCLASS:
            # int's own C __sizeof__ (no subclass's Python code runs): 3.12+ keeps the digit count in
            # lv_tag (count << 3 | sign), which as ob_size made SIG_IGN, 1, 56 bytes where it is 28: the next
            # block's words were taken for the member's (CI: 3 words py.mutation.object a child, 3.12/3.13)
            size = int_sizeof(o)
        elif id(t) in _SIZED_BY_SIZEOF:
            size = t.__sizeof__(o)
        else:
            size = type_basicsize(t)
            itemsize = type_itemsize(t)
            if itemsize:
                size += itemsize * abs(ctypes.c_int64.from_address(i + 16).value)
        k = index_of.get(id(t))
        if k is None:
            name = type_name(t)
            # (a static type never readied has no MRO: 3.8's lru_cache link type, whose __mro__ is None)
            hash_word = 0
            for b in type_mro(t) or ():
                if id(b) in hash_words:
                    hash_word = hash_words[id(b)]
                    break
            base = _base_of(flags)
            k = names.get((name, hash_word, base))
            if k is None:
                k = names[(name, hash_word, base)] = len(names)
                # the optional fields in order: the hash offset where either is given, then the base
                fields = ["T", str(k), name.replace(" ", "_")]
                if hash_word or base:
                    fields.append(str(hash_word))
                if base:
                    fields.append(base)
                w(" ".join(fields) + "\n")
            index_of[id(t)] = k
        tracked = gc.is_tracked(o)
        state = (1 if tracked else 0) | (2 if before is not None and tracked and i not in before else 0) | (4 if flags & TYPE_SUBCLASS else 0) | (8 if i in young else 0) | (16 if i in garbage else 0)
        w("O %x %d %d %d %d\n" % (i, _pre_header(flags, version), size, state, k))
        try:
            if t is code_type and adaptive:
                w("C %x %x %d\n" % (i, i + adaptive, 2 * ctypes.c_int64.from_address(i + 16).value))
            elif issubclass(t, dict):
                keys = _u64(i + 32)
                if keys and keys not in keys_written:
                    keys_written.add(keys)
                    w("B %x %d dictkeys %x\n" % (keys, _keys_size(keys), i))
                if odict_type is not None and issubclass(t, odict_type):
                    # PyODictObject (3.8-3.13): od_first at +48, after the dict; each node (key, hash,
                    # next at +16, prev) a 32-byte block of its own, relinked by move_to_end and by
                    # every insert or delete at an end (QA: 60,000 keys moved to the end in their order,
                    # the links ending as they were: 472 pages a child py.obmalloc.alloc)
                    node = _u64(i + 48)
                    for _ in range(len(o) + 1):
                        if not node:
                            break
                        w("B %x %d odictnode %x\n" % (node, _ODICT_NODE, i))
                        node = _u64(node + 16)
            elif flags & TYPE_SUBCLASS and cached_keys_at and type_flags(o) & HEAPTYPE:
                # a class's shared keys: a class whose instances were first given attributes in the
                # workers (a Django model's, per request) has its names inserted and its version tag
                # assigned there (the Django app of the tests: 49 of its 55 unknown pages a child)
                keys = _u64(i + cached_keys_at)
                if keys and keys not in keys_written:
                    keys_written.add(keys)
                    w("B %x %d dictkeys %x\n" % (keys, _keys_size(keys), i))
            elif issubclass(t, list):
                items = _u64(i + 24)
                allocated = _u64(i + 32)
                if items and allocated:
                    w("B %x %d listitems %x\n" % (items, 8 * allocated, i))
            elif issubclass(t, (set, frozenset)):
                # PySetObject (3.8-3.13): mask at +32, table at +40; up to 8 entries the table is the
                # object's own smalltable (+64), past that a block of (mask + 1) entries of 16 bytes
                table = _u64(i + 40)
                if table and table != i + 64:
                    w("B %x %d settable %x\n" % (table, 16 * (_u64(i + 32) + 1), i))
            elif array_type is not None and issubclass(t, array_type):
                address, length = array_type.buffer_info(o)
                if address and length:
                    w("B %x %d array %x\n" % (address, length * array_type.itemsize.__get__(o), i))
            elif deque_type is not None and issubclass(t, deque_type):
                for block in _deque_blocks(o, i, type_basicsize(t)):
                    w("B %x %d dequeblock %x\n" % (block, _DEQUE_BLOCK, i))
            elif bytesio_type is not None and issubclass(t, bytesio_type):
                # bytesio (3.5-3.13): its bytes object at +16, written in place once the BytesIO owns it
                # alone; ob_size at +16 of that, the bytes at +32 and a NUL
                buf = _u64(i + 16)
                if buf and _u64(buf + 8) == id(bytes):
                    w("B %x %d bytesio %x\n" % (buf, 33 + _u64(buf + 16), i))
            elif stringio_type is not None and issubclass(t, stringio_type):
                # stringio (3.8-3.13): its Py_UCS4 buffer at +16 (PyMem_Malloc'd), buf_size at +40 in
                # characters; written in place by write() at a position once realized (a seek, a read,
                # getvalue(): QA found a worker's writes there unknown, 977 pages a child)
                buf = _u64(i + 16)
                chars = _u64(i + 40)
                if buf and chars:
                    w("B %x %d stringio %x\n" % (buf, 4 * chars, i))
            elif lock_types and issubclass(t, lock_types):
                # lockobject and rlockobject (3.8-3.13): the semaphore at +16 (PyThread_type_lock, a sem_t
                # PyMem_RawMalloc'd), its count written by every acquire and release (QA: 20,000 preloaded
                # locks acquired in a worker, ~300 pages a child unknown)
                sem = _u64(i + 16)
                if sem:
                    w("B %x %d lock %x\n" % (sem, _SEM_BYTES, i))
            elif buffered_types and issubclass(t, buffered_types):
                # buffered (3.8-3.13): its buffer at +56 (PyMem_Malloc'd), buffer_size at +120 and
                # buffer_mask at +128 (the size less one for a power of two, else 0); its lock's
                # semaphore at +104. A write or read goes through the buffer (QA: 300 preloaded files
                # written in a worker, ~310 pages a child unknown)
                buf, buffer_size, mask = _u64(i + 56), _u64(i + 120), _u64(i + 128)
                if buf and buffer_size and mask in (0, buffer_size - 1):
                    w("B %x %d filebuffer %x\n" % (buf, buffer_size, i))
                sem = _u64(i + 104)
                if sem:
                    w("B %x %d lock %x\n" % (sem, _SEM_BYTES, i))
            elif issubclass(t, bytearray):
                # PyByteArrayObject (3.8-3.13): ob_alloc at +24, ob_bytes at +32; past 512 bytes the
                # bytes are a glibc chunk of their own, which no object of the map covers
                data = _u64(i + 32)
                allocated = _u64(i + 24)
                if data and allocated:
                    w("B %x %d bytearray %x\n" % (data, allocated, i))
            elif issubclass(t, cdata_type):
                # CDataObject (3.8-3.13): b_ptr at +16, b_needsfree (an int) at +24, b_size at +40. Memory
                # it allocated itself past the object (the value did not fit in it): malloc'd, a glibc
                # chunk past 512 bytes. Not memory it only points to (from_buffer, from_address, a field
                # of a structure: b_needsfree 0).
                ptr = _u64(i + 16)
                if ptr and ctypes.c_int.from_address(i + 24).value == 1 and not i <= ptr < i + size:
                    w("B %x %d ctypes %x\n" % (ptr, _u64(i + 40), i))
            elif mmap_type is not None and issubclass(t, mmap_type):
                # mmap_object (3.8-3.13): data at +16 (NULL once closed), size at +24; a private mapping
                # copies on write like the heap
                data = _u64(i + 16)
                if data:
                    w("B %x %d mmap %x\n" % (data, _u64(i + 24), i))
            elif flags & MANAGED_DICT and version in ((3, 11), (3, 12)):
                values = _values_array(o, i, version)
                if values:
                    w("B %x %d values %x\n" % (values[0], values[1], i))
        except Exception:
            pass
    interned = _interned_dict()
    if interned and interned not in seen:
        # the dict (ma_used and the version tag change at each insertion) and its keys table
        w("R %x %d interned\n" % (interned, 48))
        keys = _u64(interned + 32)
        w("R %x %d interned\n" % (keys, _keys_size(keys)))
    for start, size in _data_stack():
        w("R %x %d datastack\n" % (start, size))
    if layout:
        ctypes.pythonapi.PyInterpreterState_Get.restype = ctypes.c_void_p
        w("R %x %d typecache\n" % (ctypes.pythonapi.PyInterpreterState_Get() + layout["typeCache"], layout["typeCacheBytes"]))
    counters = _live.get("gc_counters")
    w("E %d %d %d %x %d\n" % (len(seen), frozen_count, _state.get("frozen_at_start", 0), ctypes.addressof(counters) if counters is not None else 0, unsought))


class HeapMapError(RuntimeError):
    """The heap map's helper fork failed: its exception in one line, where it was raised (``where``)."""

    def __init__(self, message, where=""):
        RuntimeError.__init__(self, message)
        self.where = where


def _tell_failure(fd, e):
    """In a helper fork that failed: its exception (one line) and where it was raised, to its parent."""
    try:
        text = " ".join(_clip("%s: %s" % (type(e).__name__, e)).split())
        data = ("%s\n%s" % (text, _where(e))).encode("utf-8", "replace")
        while data:
            data = data[os.write(fd, data):]
    except BaseException:
        pass  # the parent falls back on the wait status


def _helper_failure(fd, status, what):
    """A HeapMapError for a helper fork that ended with this wait status: its exception as it told it on
    the pipe (nothing blocks: the helper is gone, and whatever it wrote fits in the pipe), else how it
    ended (a signal, an exit status)."""
    try:
        os.set_blocking(fd, False)
        told = os.read(fd, 65536).decode("utf-8", "replace")
    except OSError:
        told = ""
    text, _, where = told.partition("\n")
    if text:
        return HeapMapError("%s: %s" % (what, text), where)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        return HeapMapError("%s: killed by %s" % (what, name))
    return HeapMapError("%s: exit status %d" % (what, os.WEXITSTATUS(status) if os.WIFEXITED(status) else status))


def _write_heap_map(path):
    started = time.monotonic()
    parent = os.getpid()
    r, w = os.pipe()
    pid = _raw_fork()
    if pid < 0:
        os.close(r)
        os.close(w)
        raise OSError(ctypes.get_errno(), "fork failed")
    if pid == 0:
        status = 1
        try:
            os.close(r)
            _die_with_parent(parent)
            _write_file(open(path, "wb"), _walk)
            status = 0
        except BaseException as e:
            _tell_failure(w, e)
        finally:
            os._exit(status)  # never run the program's atexit handlers in a helper fork
    os.close(w)
    try:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise _helper_failure(r, status, "the heap map's walk failed")
    finally:
        os.close(r)
    _report("heap_map", path=path, seconds=time.monotonic() - started, bytes=os.path.getsize(path))


# ---- the twin and the children ----


def _fork_family(count):
    """The twin first, then the children, in a tight loop: whatever the parent writes between two forks
    would show up as a difference between the twin and a child."""
    parent = os.getpid()
    _output_before_fork()
    # Set up before the twin, so that it is part of the fork-time image: what a child runs after go is
    # measured with it, and the less it runs, the less of the agent's own writing a child's copies hold
    # (the counters are the child's from its fork on; the parent collects nothing between here and its
    # last fork: it allocates no tracked object)
    collections = _count_collections()
    twin = os.fork()
    if twin == 0:
        _die_with_parent(parent)
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    return [twin] + _fork_children(parent, collections, count)


def _fork_children(parent, collections, count):
    """Each pid stays in a local of its own frame until the last fork: a list filled between two forks
    held, in every later child, the pids forked before it (its items and the ints: the program's writes,
    as blame would see them)."""
    if not count:
        return []
    pid = os.fork()
    if pid == 0:
        _child_main(parent, collections)
    return [pid] + _fork_children(parent, collections, count - 1)


def _child_main(parent, collections):
    """A child, from its fork to the end of its workload. Everything it runs writes to the fork-time
    image as the workload does (reference counts, the adaptive interpreter's counters, freed blocks
    reused), so the path around the workload is short: no library code (the done line is formatted
    here, not with json), one tuple allocated before the workload."""
    me = os.getpid()
    c = collections
    # the parent's, if at-fork handlers made it collect between two forks
    at_fork = (c["runs"], c["full"], c["blocks"], c["automatic"], len(c["windows"]))
    status = 1
    try:
        _die_with_parent(parent)
        os.kill(me, signal.SIGSTOP)  # wait for go
        try:
            _run_workload()
        except BaseException:
            if os.getpid() == me:
                raise
            try:
                status = _forked_by_workload_exit()
            except BaseException:
                status = 1  # stderr closed or broken: it ends all the same, never reported
            return
        if os.getpid() != me:
            status = 0  # a process the workload forked, back from it: it ends, as it would have
            return
        # every field an int or a list of ints: JSON as %d and join write it
        until = c["until"]
        data = b'{"event":"done","pid":%d,"requests":%d,"requestMarks":[%s],"gcRuns":%d,"gcFullRuns":%d,"gcFreedBlocks":%d,"gcAutoRuns":%d,"gcWindows":[%s]%s}\n' % (
            me, _state.get("requests", 0), ",".join(map(str, _state.get("requestMarks", ()))).encode(), c["runs"] - at_fork[0], c["full"] - at_fork[1], c["blocks"] - at_fork[2], c["automatic"] - at_fork[3], ",".join(map(str, c["windows"][at_fork[4]:])).encode(), b"" if until is None else b',"gcWindowsUntil":%d' % until)
        fd = int(CONFIG["fd"])
        while data:
            data = data[os.write(fd, data):]
        os.kill(me, signal.SIGSTOP)  # quiescent while cowscope reads us; cowscope kills us after
        status = 0
    except BaseException as e:  # report anything, then leave
        try:
            _report("error", error=_clip("%s: %s" % (type(e).__name__, e)), where=_clip(_where(e)))
        except Exception:
            pass
    finally:
        _flush_output()
        os._exit(status)


def _forked_by_workload_exit():
    """How a process the workload forked ends when the workload raised in it: its exit status (SystemExit),
    or 1 after the traceback Python prints; never reported to cowscope (it is no child of cowscope's)."""
    e = sys.exc_info()[1]
    if isinstance(e, SystemExit):
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        sys.stderr.write("%s\n" % e.code)
        return 1
    import traceback

    traceback.print_exc()
    return 1


def _count_collections():
    """Counts a child's collections from its fork on: all of them ("runs") and those of the oldest
    generation ("full": only these visit every tracked object of the fork-time image; a young one visits
    the objects still young at the fork, marked in the heap map, and the child's own), when each ran, and
    the automatic ones with the pymalloc blocks they free (blocks allocated before one minus after it).
    With gc.disable() no automatic one would run (cowscope predicts that the disable step removes what
    they wrote when every collection of the child was one), and the blocks would stay allocated, so the
    child's later allocations would go to memory free at the fork instead of reusing them (the step's
    cost). Collections the program asks for (gc.collect()) run whether or not the collector is disabled:
    gc.collect is wrapped to tell them apart (a program that bound gc.collect to a name of its own before
    the fork calls the collector unwrapped, and its collections count as automatic). Set up in the parent
    before the fork; a child writes to it only when it collects."""
    freed = {"runs": 0, "full": 0, "blocks": 0, "before": 0, "explicit": 0, "automatic": 0, "windows": [], "until": None}
    oldest = len(gc.get_stats()) - 1  # a collection's "generation", as gc.get_stats() counts it

    def callback(phase, info):
        # When each collection of any kind ran (CLOCK_MONOTONIC µs, the fault samples' clock): a page
        # first written outside all of them was not written by the collector. Past GC_WINDOWS, the start
        # of the first one left out ("until"): what comes after is not known.
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        windows = freed["windows"]
        if phase == "start":
            if len(windows) < 2 * GC_WINDOWS:
                windows.append(now)
            elif freed["until"] is None:
                freed["until"] = now
        elif len(windows) % 2:
            windows.append(now)
        if phase == "start":
            freed["runs"] += 1
            if info["generation"] == oldest:
                freed["full"] += 1
        if freed["explicit"]:
            return
        if phase == "start":
            freed["automatic"] += 1
            freed["before"] = sys.getallocatedblocks()
        else:
            freed["blocks"] += max(0, freed["before"] - sys.getallocatedblocks())

    collect = gc.collect

    def explicit_collect(*args, **kwargs):
        freed["explicit"] += 1
        try:
            return collect(*args, **kwargs)
        finally:
            freed["explicit"] -= 1

    explicit_collect.__doc__ = collect.__doc__
    gc.collect = explicit_collect
    gc.callbacks.append(callback)
    return freed


def _run_workload():
    file = CONFIG.get("workload")
    if file:
        main = sys.modules["__main__"]
        with open(file, "rb") as f:
            exec(compile(f.read(), file, "exec"), main.__dict__)
    elif _state["workload"] is not None:
        _state["workload"]()


def _wait_for_release(pids):
    """The parent tells cowscope the pids and waits. On release, when cowscope goes away (EOF), or on
    any error, every child still alive is killed and all are reaped; then the parent leaves. What it
    writes from the last fork on copies the children's pages (copied-by-parent): the pids are formatted
    here, not with json, and the release is looked for in the bytes read, not parsed."""
    try:
        fd = int(CONFIG["fd"])
        data = b'{"event":"forked","pid":%d,"twin":%d,"children":[%s],"workloadRegistered":%s}\n' % (
            os.getpid(), pids[0], ",".join(map(str, pids[1:])).encode(), b"false" if _state["workload"] is None else b"true")
        while data:
            data = data[os.write(fd, data):]
        seen = b""
        while True:
            data = os.read(fd, 64)  # a small bytes: a pymalloc block, where 4096 split a malloc chunk
            if not data:
                break
            seen = seen[-16:] + data  # (a read may end inside the word)
            if b'"release"' in seen:
                break
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        _flush_output()
        os._exit(0)


# ---- live mode: a heap map per forking process, for cowscope inspect ----
#
# With this folder on PYTHONPATH (PYTHONPATH=$(cowscope agent-path --runtime python)), sitecustomize.py
# calls start_live() in every Python process. At the first fork of each process (a gunicorn master, a
# multiprocessing pool's parent) the map is written into COWSCOPE_LIVE_DIR (default
# $TMPDIR/cowscope-live-UID) as PID.heap.jsonl with PID.meta.json beside it, the same scheme and the same
# private-directory rules as the Ruby agent's, so that `cowscope inspect PID` blames the children
# against it. The walk runs in a throwaway child (it changes reference counts).
#
# As the Ruby agent does, the map is taken again when the process forks after a quiet spell (a new fork
# generation: a refork, a pool replacing its workers) while its heap has changed since the map.

_LIVE_FILE = None  # compiled on first use: PID.heap.jsonl / PID.meta.json, or a writer's PID.*.WRITER.tmp


def _seconds_env(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


# A fork more than this many seconds after the previous fork of the same process starts a new generation;
# its map is then retaken if older than this many seconds and the heap has changed.
REMAP_AFTER = _seconds_env("COWSCOPE_LIVE_REMAP_AFTER", "1")
# Allocated blocks (sys.getallocatedblocks) gained or lost since the map below which a heap counts as
# unchanged (an idle master's own loop).
REMAP_BLOCKS = 1000


def _live_state(pid):
    return {"pid": pid, "busy": False, "failed": False, "last": None, "map_at": None, "blocks": None, "generation": 0}


_live = _live_state(None)


def _live_dir():
    import tempfile

    return os.environ.get("COWSCOPE_LIVE_DIR") or os.path.join(tempfile.gettempdir(), "cowscope-live-%d" % os.getuid())


def _private_dir(path):
    """The map directory must be ours alone: created 0700 if missing; an existing one must be a real
    directory (not a symbolic link) owned by this user and not writable by group or others."""
    import stat

    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022:
        return True
    sys.stderr.write("cowscope agent: %s is not a private directory of this user: no heap map written\n" % path)
    return False


def _live_alive(pid):
    try:
        os.kill(pid, 0)
        with open("/proc/%d/stat" % pid) as f:
            return not f.read().split(") ", 1)[1].startswith("Z")
    except (ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True


def _live_clean(d):
    """Maps of processes that are gone, and temporary files of writers that are gone."""
    global _LIVE_FILE
    import re

    _LIVE_FILE = _LIVE_FILE or re.compile(r"\A(\d+)\.(heap\.jsonl|meta\.json)(?:\.(\d+)\.tmp)?\Z")
    for name in os.listdir(d):
        m = _LIVE_FILE.match(name)
        if not m:
            continue
        owner = int(m.group(3) or m.group(1))
        if owner == os.getpid() or _live_alive(owner):
            continue
        try:
            os.unlink(os.path.join(d, name))
        except OSError:
            pass


def _write_exclusive(path, write):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    _write_file(os.fdopen(fd, "wb"), write, sync=True)


def _write_file(f, write, sync=False):
    """write(f), then f closed. Not in a with statement: its bound __exit__, a tracked object, would be
    listed by the heap map written in a helper fork (the file objects themselves the walk leaves out)."""
    try:
        write(f)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    finally:
        f.close()


def _raw_fork():
    """fork(2) without Python's at-fork handlers, for the heap map's helper. The after-fork handlers would
    make objects the parent lacks (threading replaces its locks), which the map would list; and the
    live map's helper forks from inside a before-fork handler: os.fork() there would run every before
    handler a second time, and some take plain locks (concurrent.futures' shutdown lock: a second
    acquire never returns). glibc's own handlers still run (malloc's locks). PyDLL keeps the GIL across
    the call, so the child holds it; the child only walks the heap, writes a file and leaves with
    os._exit."""
    return _fork()


def _write_live_map(generation):
    d = _live_dir()
    if not _private_dir(d):
        return False
    pid = os.getpid()
    base = os.path.join(d, str(pid))
    started = time.monotonic()
    wall = time.time()
    r, w = os.pipe()
    helper = _raw_fork()
    if helper < 0:
        os.close(r)
        os.close(w)
        raise OSError(ctypes.get_errno(), "fork failed")
    if helper == 0:
        status = 1
        tmp = "%s.heap.jsonl.%d.tmp" % (base, os.getpid())
        try:
            os.close(r)
            _write_exclusive(tmp, _walk)
            os.rename(tmp, base + ".heap.jsonl")
            status = 0
        except BaseException as e:
            _tell_failure(w, e)
            try:
                os.unlink(tmp)  # what the walk wrote before it failed
            except OSError:
                pass
        finally:
            os._exit(status)  # never run the program's atexit handlers in a helper fork
    os.close(w)
    try:
        try:
            _, status = os.waitpid(helper, 0)
        except ChildProcessError:
            # the program's SIGCHLD handler reaped it (gunicorn's master reaps every child): the map, renamed
            # into place only on success, tells
            status = 0 if os.path.exists(base + ".heap.jsonl") and os.lstat(base + ".heap.jsonl").st_mtime >= wall - 1 else 256
        if status != 0:
            try:
                os.unlink("%s.heap.jsonl.%d.tmp" % (base, helper))  # what a helper killed mid-walk left
            except OSError:
                pass
            raise _helper_failure(r, status, "the heap map's walk failed")
    finally:
        os.close(r)
    heap = os.lstat(base + ".heap.jsonl")
    meta = {
        "runtime": "python",
        "pid": pid,
        "ppid": os.getppid(),
        "python": platform.python_version(),
        "platform": "%s-%s" % (platform.machine(), sys.platform),
        "epoch": time.time(),
        "heapPageSize": POOL_SIZE,
        "slotSize": ALIGNMENT,
        "gcCount": _gc_runs(),
        "generation": generation,
        "heapIno": heap.st_ino,
        "heapSize": heap.st_size,
        "seconds": time.monotonic() - started,
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    tmp = "%s.meta.json.%d.tmp" % (base, pid)
    if os.path.lexists(tmp):
        os.unlink(tmp)
    _write_exclusive(tmp, lambda f: f.write(json.dumps(meta).encode()))
    os.rename(tmp, base + ".meta.json")
    _live_clean(d)
    _remove_at_exit(base)
    return True


def _remove_at_exit(base):
    """A process that wrote a map removes it when it exits normally (a master shut down), so that maps of
    servers that are gone do not wait for the next agent's fork to be swept. Once per process; forked
    children inherit the handler, and it does nothing there."""
    pid = os.getpid()
    if _live.get("remove_at_exit") == pid:
        return
    _live["remove_at_exit"] = pid

    def remove():
        if os.getpid() != pid:
            return
        for kind in ("heap.jsonl", "meta.json"):
            try:
                os.unlink("%s.%s" % (base, kind))
            except OSError:
                pass

    import atexit

    atexit.register(remove)


def _live_before_fork():
    """os.register_at_fork(before=...): in the forking process, before each fork. State inherited through
    a fork belongs to the parent: it is keyed by pid, so a forked child that forks in turn (a daemonized
    master) takes its own map at its own first fork."""
    pid = os.getpid()
    if _live["pid"] != pid:
        _live.update(_live_state(pid))
    if _live["busy"] or _live["failed"]:
        return  # the map's own helper fork; or a process whose map failed (one warning, not one per fork)
    now = time.monotonic()
    new_generation = _live["last"] is None or now - _live["last"] > REMAP_AFTER
    _live["last"] = now
    if not new_generation:
        return
    _live["generation"] += 1
    if _live["map_at"] is not None and not _remap(now):
        return
    _live["busy"] = True
    try:
        if _write_live_map(_live["generation"]):
            _live["map_at"] = now
        _live["blocks"] = sys.getallocatedblocks()
    except Exception as e:
        _live["failed"] = True
        sys.stderr.write("cowscope agent: no heap map for %d: %s: %s\n" % (pid, type(e).__name__, e))
    finally:
        _live["busy"] = False


def _remap(now):
    return now - _live["map_at"] > REMAP_AFTER and abs(sys.getallocatedblocks() - _live["blocks"]) >= REMAP_BLOCKS


def _live_count_collections():
    """Live mode: each process counts its own collections in three words at a fixed address (a ctypes
    array, inherited through fork at the same address): the pid they belong to, the collections and the
    full ones (the oldest generation: only these visit every tracked object a worker shares). A process's
    first collection after a fork finds another pid there and starts from 0, so nothing runs at fork time
    (servers that fork from C run no at-fork handler). cowscope inspect reads a worker's three words
    (the heap map says where) to know whether its collections visited the shared objects."""
    counters = (ctypes.c_int64 * 3)()
    counters[0] = os.getpid()
    oldest = len(gc.get_stats()) - 1
    getpid = os.getpid

    def callback(phase, info):
        if phase != "start":
            return
        pid = getpid()
        if counters[0] != pid:
            counters[0], counters[1], counters[2] = pid, 0, 0
        counters[1] += 1
        if info["generation"] == oldest:
            counters[2] += 1

    gc.callbacks.append(callback)
    _live["gc_counters"] = counters


def start_live():
    """Live mode, from sitecustomize.py: a heap map at the first fork of each process, and again at a
    refork. Not under cowscope run (which writes its own map at its fork point)."""
    if active() or _live.get("started"):
        return
    _live["started"] = True
    # the interpreter's own permanent generation (3.12 starts with one): not the program's freeze
    _state["frozen_at_start"] = gc.get_freeze_count()
    # What the first fork's map needs, imported now: imported then, their modules would be objects the
    # parent made after the program's gc.freeze(), which its workers' collections visit (~96 pages of
    # py.gc.freeze-missing a worker where the program froze its heap).
    import atexit, re, stat, tempfile  # noqa: F401,E401
    _live_count_collections()
    os.register_at_fork(before=_live_before_fork)
