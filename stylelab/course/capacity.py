"""How big a JupyterHub a class needs: each lesson measured in a fresh kernel.

``python -m stylelab.course.classroom capacity --lessons 03 --mode laptop --students 30`` runs each
lesson top to bottom in a new kernel (as a student who opens it does), in a fresh working
folder (so the result cache is empty: the worst case), and measures:

* **peak memory** of the kernel and its child processes: the kernel's resident-set
  high-water mark (``VmHWM``), and the peak of its **private** pages (sampled every 0.1 s:
  the dirty pages of heap and tensors), which is what each further student adds: the
  pages of shared libraries and of memory-mapped weights are in every kernel's resident
  set but in the machine's memory once;
* **CPU-seconds** (user + system) of the kernel and its children: unlike wall time, this
  does not depend on what else the machine is doing;
* the kernel's private memory **after each cell** (the last of them: what a student who has
  finished keeps until the hub's idle culler stops their server);
* a student's **single-user server** (``jupyter lab`` with nbgrader's extensions, configured
  as ``hub-setup`` configures students' servers) the same way.

From these it prints the server a class needs by The Littlest JupyterHub's rule
(https://tljh.jupyter.org/en/latest/howto/admin/resource-estimation.html)::

    memory = concurrent users x max memory per user + 128 MB
    CPU    = concurrent users x max CPU per user + 20 %

once with the resident-set peak per user (the rule as written, which counts shared pages
once per user) and once with the private peak per user plus the shared pages once (what the
machine needs when every student runs the same lesson). Cores: a kernel that computes
keeps one core busy per PyTorch thread (stylelab uses one thread per kernel on a hub, see
:func:`stylelab.vgg.device.cpu_threads`), so the busiest moment needs one core per concurrently
computing student; the CPU-seconds say how long a lesson keeps that core.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..files import write_atomic

__all__ = ["Usage", "measure_lesson", "measure_server", "measure_student_server", "Recommendation", "recommend",
           "format_report", "format_cells", "lesson_paths", "report", "HUB_OVERHEAD_MIB", "HUB_CPU_OVERHEAD"]

MIB = 1024 * 1024
#: The Littlest JupyterHub's memory overhead for the hub and its services (its resource-estimation guide).
HUB_OVERHEAD_MIB = 128
#: ... and its CPU overhead, in cores ("around 20% of a single modern CPU").
HUB_CPU_OVERHEAD = 0.2


@dataclass(frozen=True)
class Usage:
    """What one process tree took: a lesson's kernel, or the single-user server.

    Attributes:
        name: the lesson's file name, or ``"server"``.
        peak_rss_mib: the resident-set high-water mark (MiB) of the main process plus the
            peak of its children's.
        peak_private_mib: the highest sampled private memory of the tree (MiB): the pages
            each further student adds (see :func:`_memory`).
        shared_mib: the rest of the resident set at that moment (MiB): libraries and
            memory-mapped weights, in the machine's memory once for all students.
        cpu_seconds: user + system CPU time of the tree.
        seconds: wall time (depends on the machine's load: for information only).
        peak_cell: the index of the cell that was running at the private peak (-1: none).
        error: the first error of the run (a cell that failed), or ``""``.
        held: ``(cell index, private MiB)`` right after each code cell: what the lesson
            keeps (its variables, and memory the allocator has not given back).
    """

    name: str
    peak_rss_mib: float
    peak_private_mib: float
    shared_mib: float
    cpu_seconds: float
    seconds: float
    peak_cell: int = -1
    error: str = ""
    held: Tuple[Tuple[int, float], ...] = ()

    @property
    def idle_mib(self) -> Optional[float]:
        """Private MiB after the last code cell: what a student who stops there keeps on the
        server until the hub's idle culler stops their server (None: nothing recorded)."""
        return self.held[-1][1] if self.held else None


class _Sampler(threading.Thread):
    """Samples a process tree's memory every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.interval = interval
        self.cell = -1
        self.peak_private = self.shared_at_peak = 0.0
        self.peak_cell = -1
        self.children_rss: Dict[int, float] = {}
        self._stop_event = threading.Event()

    def private_now(self) -> float:
        """The tree's private bytes now."""
        import psutil

        try:
            tree = [self.process] + self.process.children(recursive=True)
        except psutil.Error:
            return 0.0
        total = 0.0
        for process in tree:
            try:
                total += _memory(process)[1]
            except (psutil.Error, OSError):
                continue
        return total

    def sample(self) -> None:
        import psutil

        private = shared = 0.0
        try:
            tree = [self.process] + self.process.children(recursive=True)
        except psutil.Error:
            return
        for process in tree:
            try:
                rss, dirty = _memory(process)
            except (psutil.Error, OSError):
                continue
            if process.pid != self.process.pid:
                self.children_rss[process.pid] = max(self.children_rss.get(process.pid, 0.0), rss)
            private += dirty
            shared += rss - dirty
        if private > self.peak_private:
            self.peak_private, self.shared_at_peak, self.peak_cell = private, shared, self.cell

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


def _memory(process) -> tuple:
    """``(resident bytes, private bytes)`` of a psutil process.

    Private: the pages only this process can use, the dirty ones (``Private_Dirty`` and
    ``Shared_Dirty`` of Linux's ``smaps_rollup``: the heap, tensors, pages written to).
    The rest of the resident set is clean file pages (libraries, memory-mapped weights),
    which the machine holds once however many kernels map them, and can drop and re-read;
    a file page that only one process maps yet is counted as shared too, since the next
    student's kernel maps the same page. Elsewhere: psutil's USS.
    """
    try:
        fields = {}
        for line in Path(f"/proc/{process.pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = float(value.split()[0]) * 1024
        return fields["Rss"], fields["Private_Dirty"] + fields["Shared_Dirty"]
    except (OSError, KeyError, ValueError):
        memory = process.memory_full_info()
        return memory.rss, memory.uss


def _high_water_mark(pid: int) -> Optional[float]:
    """The kernel's ``VmHWM`` in bytes (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _usage(name: str, sampler: _Sampler, started: float, error: str = "") -> Usage:
    import psutil

    times = sampler.process.cpu_times()
    own_peak = _high_water_mark(sampler.process.pid) or sampler.process.memory_info().rss
    children = sum(sampler.children_rss.values())
    cpu = times.user + times.system + times.children_user + times.children_system  # children that ended
    for child in sampler.process.children(recursive=True):  # and those still running
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        cpu += child_times.user + child_times.system
    return Usage(name, (own_peak + children) / MIB, sampler.peak_private / MIB, sampler.shared_at_peak / MIB,
                 cpu, time.perf_counter() - started, sampler.peak_cell, error)


def _kernel_manager():
    """A kernel manager for this environment's Python (whatever ``python3`` kernel is installed)."""
    import ipykernel.kernelspec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


def measure_lesson(path: str | Path, environment: Mapping[str, str], *, cell_timeout: int = 3600,
                   interval: float = 0.1) -> Usage:
    """Run the notebook at ``path`` top to bottom in a fresh kernel and measure it.

    Args:
        path: the lesson notebook.
        environment: variables for the kernel on top of this process's (``STYLELAB_MODE``,
            ``STYLELAB_WEIGHTS``, ``STYLELAB_THREADS``, ...).
        cell_timeout: seconds one cell may run.
        interval: seconds between memory samples.

    The kernel runs in an empty temporary folder; both are gone afterwards. A failing cell
    ends the run; its error is in :attr:`Usage.error`.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    notebook = nbformat.read(str(path), as_version=4)
    with tempfile.TemporaryDirectory(prefix="stylelab-capacity-") as folder:
        client = NotebookClient(notebook, km=_kernel_manager(), timeout=cell_timeout, allow_errors=False,
                                resources={"metadata": {"path": folder}})
        started = time.perf_counter()
        error = ""
        # cleanup_kc: shut the kernel down afterwards (nbclient keeps a kernel it was handed alive)
        with client.setup_kernel(env={**os.environ, **environment}, cwd=folder, cleanup_kc=True):
            sampler = _Sampler(client.km.provisioner.pid, interval)
            sampler.start()
            held: List[Tuple[int, float]] = []
            try:
                for index, cell in enumerate(notebook.cells):
                    sampler.cell = index
                    client.execute_cell(cell, index)
                    if cell.cell_type == "code":
                        held.append((index, sampler.private_now() / MIB))
            except CellExecutionError as exc:
                last = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[-1]  # no terminal colours
                error = f"cell {sampler.cell}: {last[:200]}"
            finally:
                sampler.stop()
                usage = _usage(path.name, sampler, started, error)
    return dataclasses.replace(usage, held=tuple(held))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure_server(environment: Mapping[str, str], *, startup_timeout: float = 300) -> Usage:
    """Start ``jupyter lab`` (no browser, 127.0.0.1), load the JupyterLab page once, and
    measure the server as :func:`measure_lesson` measures a kernel."""
    port, token = _free_port(), os.urandom(16).hex()
    with tempfile.TemporaryDirectory(prefix="stylelab-capacity-") as folder:
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        process = subprocess.Popen(command, cwd=folder, env={**os.environ, **environment},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.perf_counter()
        try:
            sampler = _Sampler(process.pid)
            sampler.start()
            deadline = time.monotonic() + startup_timeout
            while True:
                try:
                    for page in ("api/status", "lab", "api/kernelspecs", "assignments?course_id=capacity"):
                        request = urllib.request.Request(f"http://127.0.0.1:{port}/{page}",
                                                         headers={"Authorization": f"token {token}"})
                        urllib.request.urlopen(request, timeout=30).read()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise ChildProcessError("jupyter lab did not start; run `jupyter lab` by hand to see why.") from None
                    time.sleep(0.5)
            sampler.stop()
            return _usage("server", sampler, started)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure_student_server() -> Usage:
    """:func:`measure_server` as a student's server runs: with the Jupyter configuration that
    ``hub-setup`` gives students (nbgrader's instructor tools off; :mod:`stylelab.course.hub`)."""
    from .hub import student_config_files

    with tempfile.TemporaryDirectory(prefix="stylelab-student-config-") as folder:
        for name, text in student_config_files().items():
            write_atomic(Path(folder) / name, text, what="a student's Jupyter configuration")
        return measure_server({"JUPYTER_CONFIG_DIR": folder})


@dataclass(frozen=True)
class Recommendation:
    """The server a class needs (see the module docstring for the rule)."""

    students: int
    per_user_rss_mib: float
    per_user_private_mib: float
    shared_mib: float
    memory_by_rule_gib: float
    memory_shared_once_gib: float
    cores: float
    cpu_seconds: float


def recommend(lessons: Sequence[Usage], server: Usage, students: int) -> Recommendation:
    """The memory and cores for ``students`` concurrent users, each running the heaviest lesson."""
    if students < 1:
        raise ValueError(f"students must be at least 1, not {students!r}.")
    if not lessons:
        raise ValueError("Measure at least one lesson.")
    rss = max(usage.peak_rss_mib for usage in lessons) + server.peak_rss_mib
    private = max(usage.peak_private_mib for usage in lessons) + server.peak_private_mib
    shared = max(usage.shared_mib for usage in lessons) + server.shared_mib
    return Recommendation(
        students=students,
        per_user_rss_mib=rss,
        per_user_private_mib=private,
        shared_mib=shared,
        memory_by_rule_gib=(students * rss + HUB_OVERHEAD_MIB) / 1024,
        memory_shared_once_gib=(students * private + shared + HUB_OVERHEAD_MIB) / 1024,
        cores=students + HUB_CPU_OVERHEAD,
        cpu_seconds=max(usage.cpu_seconds for usage in lessons),
    )


def format_report(lessons: Iterable[Usage], server: Usage, advice: Recommendation, *, mode: str,
                  threads: str, weights: str) -> str:
    """The table per lesson and the recommendation, as Markdown."""
    lines = [
        f"mode {mode} | {threads} | weights {weights} | empty result cache",
        "",
        "| lesson | peak RSS (MiB) | peak private (MiB) | private when done (MiB) | shared at peak (MiB) "
        "| CPU-seconds | peak in cell |",
        "|---|---|---|---|---|---|---|",
    ]
    for usage in [*lessons, server]:
        cell = "" if usage.peak_cell < 0 else str(usage.peak_cell)
        idle = "" if usage.idle_mib is None else f"{usage.idle_mib:,.0f}"
        lines.append(f"| {usage.name} | {usage.peak_rss_mib:,.0f} | {usage.peak_private_mib:,.0f} | {idle} | "
                     f"{usage.shared_mib:,.0f} | {usage.cpu_seconds:,.1f} | {cell} |")
        if usage.error:
            lines.append(f"|  | error: {usage.error} |  |  |  |  |  |")
    n = advice.students
    lines += [
        "",
        f"{n} students at once, each in the heaviest lesson, by The Littlest JupyterHub's rule "
        f"(concurrent users x max memory per user + {HUB_OVERHEAD_MIB} MB):",
        f"- as written (resident set per user, {advice.per_user_rss_mib:,.0f} MiB): "
        f"{advice.memory_by_rule_gib:.1f} GiB",
        f"- private memory per user ({advice.per_user_private_mib:,.0f} MiB) and the shared pages once "
        f"({advice.shared_mib:,.0f} MiB): {advice.memory_shared_once_gib:.1f} GiB",
        "- add the guide's 20-40 % headroom per user for students who play around;",
        f"- cores: {advice.cores:.1f} for everyone computing at once (one thread per kernel); the heaviest "
        f"lesson keeps its core busy for {advice.cpu_seconds:,.0f} CPU-seconds.",
    ]
    return "\n".join(lines)


def format_cells(usage: Usage, *, at_least: float = 20.0) -> str:
    """The cells after which the lesson holds ``at_least`` MiB more than before: where it keeps memory."""
    lines = [f"{usage.name}: cells that keep {at_least:g} MiB or more (private MiB after the cell)"]
    previous = None
    for index, held in usage.held:
        if previous is not None and held - previous >= at_least:
            lines.append(f"  cell {index}: {previous:,.0f} -> {held:,.0f} (+{held - previous:,.0f})")
        previous = held
    if usage.held:
        lines.append(f"  after the last cell: {usage.held[-1][1]:,.0f}; peak {usage.peak_private_mib:,.0f} "
                     f"in cell {usage.peak_cell}")
    return "\n".join(lines)


def lesson_paths(lessons: Optional[Sequence[str]], folder: Path) -> list:
    """The lesson notebooks ``NN_*.ipynb`` in ``folder`` (all of them when ``lessons`` is None)."""
    found = {path.name[:2]: path for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}
    chosen = sorted(found) if lessons is None else list(lessons)
    missing = [lesson for lesson in chosen if lesson not in found]
    if missing:
        raise ValueError(f"There is no lesson {missing[0]} in {folder}; choose from {', '.join(sorted(found))}.")
    return [found[lesson] for lesson in chosen]


def report(lessons: Optional[Sequence[str]], *, mode: str, students: int, threads: Optional[int],
           weights: Optional[str], folder: Path, cells: bool = False, progress=print) -> str:
    """Measure ``lessons`` (and the single-user server) and return :func:`format_report`'s text.

    ``threads``: PyTorch's CPU threads per kernel (None: as on a hub, see
    :func:`stylelab.vgg.device.cpu_threads`; 0: PyTorch's default, one per core). ``cells``:
    add :func:`format_cells` for each lesson.
    """
    from ..vgg.device import THREADS_VARIABLE, cpu_threads
    from .modes import MODES

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if students < 1:
        raise ValueError(f"students must be at least 1, not {students!r}.")
    paths = lesson_paths(lessons, folder)
    if threads is None:
        threads = cpu_threads({"JUPYTERHUB_USER": "capacity"}) or 0
    environment = {"STYLELAB_MODE": mode, THREADS_VARIABLE: str(threads), "JUPYTERHUB_USER": "capacity"}
    if weights:
        environment["STYLELAB_WEIGHTS"] = weights
    usages = []
    for path in paths:
        progress(f"running {path.name} in a fresh kernel ({mode} mode) ...")
        usage = measure_lesson(path, environment)
        usages.append(usage)  # said at once: a long run that stops later (a server that does not start) keeps it
        progress(f"{path.name}: peak RSS {usage.peak_rss_mib:,.0f} MiB, peak private {usage.peak_private_mib:,.0f} MiB, "
                 f"{usage.cpu_seconds:,.1f} CPU-seconds{'; ' + usage.error if usage.error else ''}")
    progress("starting jupyter lab to measure a student's single-user server ...")
    server = measure_student_server()
    thread_text = f"{threads} PyTorch thread{'s' if threads != 1 else ''} per kernel" if threads else \
        "PyTorch's default threads (one per core)"
    text = format_report(usages, server, recommend(usages, server, students), mode=mode, threads=thread_text,
                         weights=weights or os.environ.get("STYLELAB_WEIGHTS", "auto"))
    return "\n\n".join([text, *(format_cells(usage) for usage in usages)]) if cells else text
