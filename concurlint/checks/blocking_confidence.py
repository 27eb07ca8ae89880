"""How sure a CCL501 finding is (``blocking_confidence``): how long the call waits, how often it
runs (per request, per item, once per object or per process), and whether its place says it is a
clean-up (a ``finally``/``except`` removal, a best-effort ``rmtree``) or a console prompt.

high: per-call waits (network, processes, sleep; file work for every request or item); medium:
one file's contents or one directory's listing, a process started without waiting for it, work
run once per object; low: test helpers, start-up or shut-down code, file metadata. The reasons,
measured on real packages, are in docs/precision.md."""
from __future__ import annotations

import ast
import re
from typing import Optional, Tuple

from concurlint.analysis.facts import Function, ModuleFacts
from concurlint.analysis.hints import (caches_per_key, fills_once, first_lifecycle, is_cli_code, is_cli_command,
                                       is_lifecycle, is_pytest_plugin, is_request_handler, is_test_code)
from concurlint.checks.blocking_calls import PROCESS_PREFIXES, SPAWNS, one_file


# removing files and directories: in a `finally` block, the clean-up of what the coroutine made
# (a temporary directory, an uploaded archive), once per call and usually small
REMOVALS = frozenset({"shutil.rmtree", "os.remove", "os.unlink", "os.rmdir", "os.removedirs",
                      "pathlib.Path.unlink", "pathlib.Path.rmdir"})


def _cleanup(call, target: Optional[str], conf: str) -> str:
    """``finally: shutil.rmtree(tempdir)``, or the same in an ``except`` block (the error path),
    or with ``ignore_errors=True`` anywhere: medium at most (the removal of a temporary directory
    the coroutine made, on the way out or on the error path; a whole tree removed as the work
    itself stays high). A console prompt
    (``input()``, ``getpass``) is medium at most too: it waits for a person at a terminal, in a
    program where little else runs (on real code: confirmations at exit, interactive log-in
    fallbacks -- none worth a change)."""
    if conf == "high" and (target in PROMPTS or ((call.in_finally or call.in_handler) and target in REMOVALS)
                           or (target == "shutil.rmtree" and _best_effort(call))):
        return "medium"
    return conf


def _best_effort(call) -> bool:
    """``shutil.rmtree(tmp_dir, ignore_errors=True)``: a clean-up whose author does not care
    whether it works (on the corpus: 6 such removals at high, none worth a change; the trees
    removed as the work itself -- a cache cleared, a collection deleted -- pass no such flag)."""
    flag = call.kwargs.get("ignore_errors") or (call.args[1] if len(call.args) > 1 else None)
    return flag is not None and flag.kind == "literal" and flag.text == "True"


PROMPTS = frozenset({"builtins.input", "getpass.getpass"})


DEEP_CHAIN = 3  # calls between the coroutine and the blocking call from which a finding is medium at most
SELF_OPENERS = frozenset({"open", "connect", "aopen", "aconnect", "open_async", "connect_async"})
SELF_ENDERS = frozenset({"delete", "destroy", "dispose", "adelete", "delete_async"})


def _opens_itself(fn: Optional[Function]) -> bool:
    """``async def open(self)`` of a storage or client object, with no argument (or options with
    defaults only): it opens the object itself, once per object (``FileStorage.open`` loading the
    session database); an ``open(self, path)`` opens something new on every call. ``async def delete(self)`` likewise
    ends the object itself (a chat session removing its upload folder), once per object."""
    if fn is None or fn.cls is None or fn.name not in SELF_OPENERS | SELF_ENDERS:
        return False
    # `connect(self, timeout=DEFAULT_TIMEOUT, datasources=None)`: options only, nothing new to open
    # (prisma's client, connected once at start-up: rev104a's high debatable)
    return all(p in fn.optional for p in fn.params[1:])


def _a_rename(project, fn: Function, target: str, line: int) -> bool:
    """``shutil.move(src, dst)`` within one folder: ``dst + ".part"`` -> ``dst``, or two
    ``os.path.join(CACHE_DIR, ...)`` paths -- a rename on one file system, microseconds. A move
    out of another folder (an upload's temporary file, a ``tempfile`` directory) may cross file
    systems and copy the file's bytes."""
    if target != "shutil.move":
        return False
    for c in project.calls_of(fn):
        if c.line != line or project.call_target(c) != target or len(c.args) < 2:
            continue
        src, dst = c.args[0], c.args[1]
        if src.kind == dst.kind == "call" and src.qualname == dst.qualname == "os.path.join" \
                and src.inner and dst.inner and src.inner[0].text == dst.inner[0].text:
            return True  # os.path.join(CACHE_DIR, tmp_name) -> os.path.join(CACHE_DIR, name)
        if dst.text.isidentifier() and src.kind in ("other", "literal") \
                and re.search(r"(^|[^\w.])" + re.escape(dst.text) + r"\b", src.text):
            return True  # dst + ".part" -> dst, f"{dst}.tmp" -> dst
    return False


# what a hard link or a rename that failed falls back to: copying the bytes
COPIES = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move"})
# a hard link, a symlink or a rename: metadata only, on one file system
LINKS = frozenset({"os.link", "os.symlink", "os.rename", "os.replace", "pathlib.Path.hardlink_to",
                   "pathlib.Path.symlink_to", "pathlib.Path.rename", "pathlib.Path.replace"})


def _fallback_copy(project, fn: Function, target: str, line: int) -> bool:
    """``try: target.hardlink_to(source)`` / ``os.rename(config, backup)`` ``except OSError:
    shutil.copy2(...)``: the copy runs only when the link or rename fails (another file system),
    which the default layout avoids (apt-mirror's mirror tree, ledfx's config backup)."""
    if target not in COPIES:
        return False
    calls = project.calls_of(fn)
    here = [c for c in calls if c.line == line and c.in_handler and project.call_target(c) == target]
    return bool(here) and any(line - 5 <= c.line < line and not c.in_handler and (
        project.call_target(c) in LINKS or (project.call_target(c) is None and c.method in LINK_METHODS))
        for c in calls)


# on a receiver whose type is not known (`target.hardlink_to(source)` for each target of a loop):
# the link methods only, not `rename`/`replace`, which strings have too
LINK_METHODS = frozenset({"hardlink_to", "symlink_to", "link_to"})


def _lifecycle_only(project, fn: Function, depth: int = 0) -> bool:
    """A coroutine of the program's own (private, or nested) that only start-up or shut-down code
    awaits (``await self._run_ws_server()`` in ``setup()``, ``await self._kill_browser()`` in
    ``close()``), directly or through another such coroutine: it runs when they do, once per object."""
    if depth > 2 or not (fn.name.startswith("_") or fn.parent):
        return False
    callers = project.calls_to(fn.qualname)
    if not callers:
        return False  # handed out as a callback, or not called at all: who calls it is not known
    for c in callers:
        caller = project.functions.get(c.function) if c.function else None
        if caller is None or caller is fn or not c.awaited:
            return False  # `create_task(self._run())` in `__init__`: the object's work, not its set-up
        if not (is_lifecycle(caller.qualname) or _lifecycle_only(project, caller, depth + 1)):
            return False
    return True


def _cli_only(project, fn: Function, depth: int = 0) -> bool:
    """Every call of the coroutine in the project is awaited by command-line code (a module
    ``is_cli_code`` names, directly or through coroutines only such code awaits): a one-shot
    command's step (an environment's ``prepare()`` that only the ``project prepare`` command
    awaits), alone on the command's loop."""
    callers = project.calls_to(fn.qualname)
    if not callers or depth > 3:
        return False
    for c in callers:
        caller = project.functions.get(c.function) if c.function else None
        mod = project.function_module.get(c.function) if c.function else None
        if caller is None or mod is None or caller is fn:
            return False
        if not c.awaited:
            # `asyncio.run(focus_slot(...))` in a command: the coroutine is the run's whole program
            if is_cli_code(mod.module) and _run_by_asyncio(project, caller, c):
                continue
            return False
        if not (is_cli_code(mod.module) or is_cli_command(caller) or _cli_only(project, caller, depth + 1)):
            return False
    return True


def _run_by_asyncio(project, caller: Function, call) -> bool:
    """``call`` (a coroutine function's call) is what ``asyncio.run(...)`` in ``caller`` runs."""
    return any(project.call_target(r) in ("asyncio.run", "asyncio.runners.run") and r.args
               and (r.args[0].line, r.args[0].col) == (call.line, call.col) for r in project.calls_of(caller))


def _filled_once(project, chain: Tuple[str, ...], line: int = 0, per_process: bool = False) -> bool:
    """A helper on the chain stores what the next step returns in an attribute it fills only
    the first time (``if self._metadata is None: self._metadata = fetch()``): once per object.
    The function making the blocking call may store its own result (``line``: ``if
    _global_context is None: ... _global_context = pool.submit(init).result()``): once per process.
    ``per_process``: only a store every object shares (a global, ``cls._cache``)."""
    for q, nxt in zip(chain, chain[1:]):
        f, mod = project.functions.get(q), project.function_module.get(q)
        if f is None or mod is None:
            continue
        lines = _lines_calling(project, f, mod, nxt)
        if lines and fills_once(f, lines, per_process):
            return True
    last = project.functions.get(chain[-1]) if line else None
    return last is not None and fills_once(last, {line}, per_process)


def _filled_by_callee(project, chain: Tuple[str, ...], per_process: bool = False) -> bool:
    """``if not self.reflexes: self.load_reflexes()``: a step of the chain is called right under
    a test of an attribute that the rest of the chain fills (assigns, or updates in place, maybe
    in a function nested in it): it runs until the attribute is filled, once per object or per
    class (django-sockpuppet's reflex classes found by walking the apps' folders, rev103b).
    ``per_process``: only a fill of the class's own attribute (``cls._s3_client = boto3.client(...)``
    in a classmethod), which every object then shares."""
    for i, (q, nxt) in enumerate(zip(chain, chain[1:])):
        f, mod = project.functions.get(q), project.function_module.get(q)
        if f is None or mod is None:
            continue
        lines = _lines_calling(project, f, mod, nxt)
        tested = {a.target.rsplit(".", 1)[-1] for a in f.accesses
                  if a.in_check and a.via_self and a.target.startswith("attr:")
                  and any(0 <= n - a.line <= 1 for n in lines)}
        if tested and any(_fills(project, g, tested, per_process) for g in chain[i + 1:]):
            return True
    return False


def _fills(project, qualname: str, names: set, per_process: bool = False) -> bool:
    """The function, or a function nested in it that it calls, assigns or updates one of the
    attributes ``names`` (through ``self``, or through the class: ``cls.X = ...``; with
    ``per_process``, through the class only)."""
    fn = project.functions.get(qualname)
    if fn is None:
        return False
    nested = [project.functions.get(t) for c in project.calls_of(fn)
              if (t := project.call_target(c)) and t.startswith(qualname + ".<locals>.")]
    return any(a.kind in ("write", "mutate") and a.target.startswith("attr:") and a.target.rsplit(".", 1)[-1] in names
               and not (per_process and a.via_self)
               for g in [fn] + [g for g in nested if g is not None] for a in g.accesses)


def _lines_calling(project, f: Function, mod: ModuleFacts, callee: str) -> set:
    """The lines of ``f`` that call ``callee`` (the next step of a chain)."""
    return {mod.calls[i].line for i in f.calls if project.call_target(mod.calls[i]) == callee}


def _behind_memo(project, path: Tuple[str, ...], line: int) -> bool:
    """A function on the way answers from a cache it fills itself (``if _config: return _config``
    ... ``_config = parse()``, Function.memo_from) before the call that leads to the blocking one
    (``line``: the blocking call's line in the last function): it runs once per fill."""
    for i, q in enumerate(path):
        f, mod = project.functions.get(q), project.function_module.get(q)
        if f is None or mod is None or not f.memo_from:
            continue
        lines = _lines_calling(project, f, mod, path[i + 1]) if i + 1 < len(path) else {line}
        if lines and min(lines) > f.memo_from:
            return True
    return False


def blocking_confidence(project, module: ModuleFacts, fn: Function, chain: Tuple[str, ...],
                        weight: float, where: str, in_loop: bool = False, line: int = 0, target: str = "",
                        early: bool = False) -> str:
    """high: per-call waits (network, processes, sleep; file contents read for every request or
    for every item of a loop); medium: one file's contents (usually small and local: a config,
    a key, a temp file); low: test helpers, start-up or shut-down code, file metadata
    (docs/precision.md). ``early``: the program has started nothing else on the loop yet
    (``own_loops.program_sequence``): start-up code too."""
    if is_test_code(module.module, fn.qualname) or is_test_code(where):
        return "low"
    if is_pytest_plugin(module.module):
        # a pytest plugin's async fixtures and helpers: the loop is the test's, and the test waits
        # for each step anyway (pytest-operator's charm builds and downloads: rev117a, 13 of 13
        # not worth a change)
        return "low"
    if weight <= 1 or is_cli_code(module.module) or is_cli_command(fn):
        return "low"  # file metadata; or a command-line program's coroutine, alone on its loop
    if _called_nowhere(project, fn):
        return "low"
    path = (fn.qualname,) + chain
    # the coroutine and the helpers on the way, not the function that makes the blocking call
    callers = [f for f in (project.functions.get(q) for q in (fn.qualname,) + chain[:-1]) if f is not None]
    last = project.functions.get(path[-1]) if chain else None
    if any(caches_per_key(f) for f in callers) or (last is not None and caches_per_key(last, before=line)):
        # behind a per-key cache (a client per proxy URL, a camera's configuration read from
        # its file the first time it is asked for): once per key, not per call
        return "low"
    if _cli_only(project, fn):
        return "medium"  # a command's step: alone on its loop, once per run (a tree or a wait may still be long)
    if chain and (_filled_once(project, path, line, per_process=True)
                  or _filled_by_callee(project, path, per_process=True)):
        # `if cls._cache is None: cls._cache = probe()` on the way: once in the process's life,
        # usually at start-up (dashbox's `node --version`, first run by create_app before the
        # loop: rev153d's medium fp; ragbits' S3 client checked with head_bucket() when the class
        # first makes it: rev154d's high debatable)
        return "low"
    if early or first_lifecycle(path) is not None or _lifecycle_only(project, fn) or _filled_once(project, path, line) \
            or _filled_by_callee(project, path) \
            or any(_opens_itself(f) for f in callers) or _behind_memo(project, path, line):
        # once per process or object: cheap work is not worth a change; a whole tree copied,
        # removed or unpacked may still stall the loop for seconds
        return "medium" if weight >= 3 else "low"
    if weight == 2.5:  # a thread or queue wait, a send into a buffer: usually coordinated with the other side
        return "medium"
    if target.startswith(PROCESS_PREFIXES) and _quick_command(project, last or fn, target, line):
        # `stty sane`, `tmux switch-client`, `uname -r`, `systemctl is-active`: a local
        # tool that answers in milliseconds (on real code: all such findings at high were true
        # but not worth a change -- service-status tools, console resets, version strings)
        return "medium"
    if _fallback_copy(project, last or fn, target, line):
        return "medium"
    if weight == 2 and (one_file(target) or (target in SPAWNS and not in_loop)
                        or _a_rename(project, last or fn, target, line)
                        or (not in_loop and not is_request_handler(fn.params))):
        # one file's contents or one directory's listing, even for every request or item: on
        # real packages it had never seen, not one such finding at high was worth fixing (small
        # local files, page-cache writes, start-up reads; docs/precision.md); nor a process
        # started without waiting for it, once per request (Popen: 0 of 30 worth a change);
        # other file work (a copy, a move, a walk) unless it runs for every request or item
        return "medium"
    return "high"


def _called_nowhere(project, fn: Function) -> bool:
    """A private method (``_validate_tcp_connectivity``) of a class whose bases are all the
    project's, with no decorator, that no code of the project calls or mentions: nothing runs it
    (proxywhirl's dead TCP probe, rev144b's high debatable). A library's base class may call its
    subclasses' hooks by name, so a class with another base is left alone."""
    if fn.cls is None or not fn.name.startswith("_") or fn.name.startswith("__") or fn.decorators:
        return False
    info = project.classes.get(fn.cls)
    if info is None or any(b not in project.classes and b not in ("object", "builtins.object") for b in info.bases):
        return False
    return fn.name not in project.mentioned_names()


# local tools that answer at once, whatever their arguments; and tools that do so for some
# subcommands only (`systemctl is-active`, not `restart`). Not git: a reviewer judged `git
# rev-parse` on every /version request worth moving off the loop (evidently), another not (a
# version string read once)
QUICK_TOOLS = frozenset({"stty", "tput", "tmux", "uname", "id", "whoami", "hostname", "nproc", "getconf",
                         "sw_vers", "lsb_release", "which", "where", "tasklist", "mkdir", "chmod", "chown",
                         "ln", "touch", "dpkg-query", "sysctl",
                         # ends a process (tree) and returns: on real code every such finding was a
                         # one-off at shut-down or after a timeout (seven labels, all debatable)
                         "taskkill",
                         # hand a file or a URI to the desktop's handler and return (torrra's magnet
                         # links, rev107a's high debatable)
                         "open", "xdg-open", "gio",
                         # the machine's last act: nothing the loop would serve after it matters
                         # (indiweb's reboot and power-off routes, rev106b; `shutdown now`, Windows'
                         # `shutdown /r`, which returns as soon as it is scheduled: simplyprint's
                         # restart and shut-down events, rev113a)
                         "reboot", "poweroff", "halt", "shutdown"})
QUICK_SUBCOMMANDS = {
    "systemctl": frozenset({"is-active", "is-enabled", "is-failed", "status", "show", "cat", "reboot", "poweroff",
                            "halt"}),
    "launchctl": frozenset({"list", "print", "getenv", "load", "unload"}),
    "dpkg": frozenset({"-s", "-l", "-L", "--status", "--list", "--listfiles", "--print-architecture"}),
    # compiled tools' version strings, printed at once (mkdocs-multirepo-plugin's `git --version`
    # per clone task, rev124a's high debatable); not any tool's: a Python program's `--version`
    # may import a model first
    **{tool: frozenset({"--version"}) for tool in ("git", "cmake", "ninja", "make", "gcc", "g++", "clang", "docker")},
    **{tool: frozenset({"-version"}) for tool in ("ffmpeg", "ffprobe")},
}


def _quick_command(project, fn: Function, target: str, line: int) -> bool:
    """The process the call runs is a quick local tool, named by a literal first argument
    (``subprocess.run(["systemctl", "is-active", unit])``, ``os.system("stty sane")``,
    ``subprocess.run(f"mkdir -p {rundir}", shell=True)``)."""
    for c in project.calls_of(fn):
        if c.line != line or project.call_target(c) != target or not c.args:
            continue
        branches = [_command_words(c.args[0])] if c.args[0].kind != "other" or " if " not in c.args[0].text \
            else _branch_words(c.args[0].text)
        if branches and all(words and _quick(words) for words in branches):
            return True
    return False


def _quick(words: Tuple[str, ...]) -> bool:
    """A quick local tool's command line, also after ``sudo``."""
    if words[0] == "sudo":
        words = words[1:]
    return bool(words) and (words[0] in QUICK_TOOLS
                            or (len(words) > 1 and words[1] in QUICK_SUBCOMMANDS.get(words[0], ())))


def _branch_words(text: str):
    """The leading literal words of both branches of ``["sudo", "reboot"] if sudo else
    ["reboot"]`` (a list or tuple of strings in each); [] when either is something else."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return []
    if not isinstance(node, ast.IfExp):
        return []
    out = []
    for branch in (node.body, node.orelse):
        if not isinstance(branch, (ast.List, ast.Tuple)):
            return []
        words = []
        for elt in branch.elts[:3]:
            if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
                break
            words.append(elt.value)
        out.append(tuple(words))
    return out


def _command_words(arg) -> Tuple[str, ...]:
    """The leading literal words of a command: a list or tuple of string literals, or a string
    (an f-string's text up to its first placeholder)."""
    if arg.kind == "container" and arg.inner:
        words = []
        for v in arg.inner[:3]:
            if v.kind != "literal" or v.text[:1] not in ("'", '"'):
                break
            words.append(v.text.strip("'\""))
        return tuple(words)
    text = arg.text
    if arg.kind in ("literal", "other") and (text[:2] in ('f"', "f'") or text[:1] in ('"', "'")):
        quote = text[1] if text[:1] == "f" else text[0]
        body = (text[2:] if text[:1] == "f" else text[1:]).rstrip(quote)  # `"reboot"`: not `reboot"`
        return tuple(body.split("{", 1)[0].split()[:2])
    return ()
