"""What `--cluster` names, and a Dask client to it.

`tcp://HOST:PORT` is a running `dask scheduler` whose workers (`dask worker
tcp://HOST:PORT`, on any machine with the package installed) do the work;
`local:N` starts N worker processes on this machine (a `LocalCluster`), for
one big machine. Each worker process runs one file at a time: the recognizer
already uses the cores it is given.

Dask's nanny starts each worker process with `OMP_NUM_THREADS=1` (and the same
for MKL and OpenBLAS, read when numpy loads); the audio features then add up
in another order and word probabilities differ from a local ingest in the
third decimal. Local workers get this process's settings instead, so a file
gives the very same transcript as at home; on other machines, start `dask
worker` with them set (the nanny keeps values already in its environment;
see README). "This process's settings" are the threads its numpy BLAS really
runs with (read through threadpoolctl), not `os.environ`: a nanny started in
this process writes its `OMP_NUM_THREADS=1` into `os.environ` for good, long
after numpy loaded with 2, and workers started later from that value decoded
other words ("I what he not" for "I what him not"). The nanny also prefers a
value in `os.environ` to its config's, so the counts go there too while the
workers start, and the old values are put back once they are up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

from ..asr.base import default_threads
from ..errors import FatalError, UsageError

INSTALL_HINT = "pip install 'interview-index[cluster]'"
CONNECT_TIMEOUT_S = 20


def parse(spec: str) -> tuple[str, Any]:
    """("local", N) or ("tcp", "tcp://HOST:PORT"); anything else is a usage error."""
    m = re.fullmatch(r"local:(\d+)", spec.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise UsageError(f"--cluster {spec}: local:N needs at least 1 worker")
        return "local", n
    if re.fullmatch(r"tcp://[^\s/:]+:\d{1,5}", spec.strip()):
        return "tcp", spec.strip()
    raise UsageError(f"--cluster {spec}: expected tcp://SCHEDULER:PORT or local:N")


def require_dask() -> None:
    """One line and status 2 when the optional extra is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(f"--cluster needs Dask distributed, which is not installed: {INSTALL_HINT}") from None


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_environment() -> dict[str, str]:
    """The math libraries' thread counts this process runs with, for workers to run with too."""
    threads = blas_threads()
    if threads:
        return {name: str(threads) for name in THREAD_VARIABLES}
    return {name: os.environ.get(name, str(default_threads())) for name in THREAD_VARIABLES}


def blas_threads() -> int | None:
    """The threads numpy's BLAS was loaded with (it read them from the environment then), if it can tell."""
    import numpy  # noqa: F401  (loaded, so that its BLAS is there to ask)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i["filepath"]]
    return counts[0] if counts else None


@contextlib.contextmanager
def connect(spec: str) -> Iterator[Any]:
    """A `distributed.Client` for `spec`, closed (and a local cluster stopped) on the way out."""
    kind, value = parse(spec)
    require_dask()
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # its warnings are not the user's business
    if kind == "local":
        import dask

        threads = thread_environment()
        environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **threads}
        before = {name: os.environ.get(name) for name in environ}
        os.environ.update(threads)  # the nanny takes a value in os.environ over its config's
        try:
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):  # set before numpy loads there
                cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR)  # fmt: skip
        finally:  # the nanny wrote them into this process's environment
            for name, old in before.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(value, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as e:
        raise FatalError(f"cannot reach the Dask scheduler at {value}: {e}") from e
    with client:
        yield client
