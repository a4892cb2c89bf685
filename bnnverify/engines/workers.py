"""Where parallel work runs: local worker processes (how they start) and Dask schedulers (how to
connect) — shared by the sweeps (:mod:`bnnverify.questions.sweep`) and split counts
(:mod:`bnnverify.engines.partition`)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from bnnverify.errors import DataError

__all__ = ["DASK_CONNECT_TIMEOUT_S", "dask_client", "start_method"]

#: How long to wait for a Dask scheduler to answer (seconds).
DASK_CONNECT_TIMEOUT_S: float = 10.0


def start_method() -> str:
    """How local workers start: ``fork`` when this process has one thread and fork exists (workers
    inherit the imported modules: no second start-up of numpy, torch-free bnnverify, CUDD, PySAT;
    no BDD manager or solver is alive in the parent while the work starts), else ``spawn``.

    Measured on 359 digits images (64-32-10), quiet 2-core machine: Hamming 2, spawn --jobs 2
    2.22 s vs --jobs 1 2.04 s (two interpreter start-ups), fork 2.13 s vs 2.12 s; Hamming 3,
    fork --jobs 2 4.26 s vs --jobs 1 7.12 s.
    """
    import multiprocessing as mp
    import threading

    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


@contextmanager
def dask_client(address: str, connect_timeout: float = DASK_CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A ``distributed.Client`` of the running scheduler at ``address``, closed afterwards; a
    :class:`DataError` (``--dask``) if the package is missing or the scheduler does not answer."""
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise DataError(f"a Dask scheduler needs dask.distributed ({e})", param="dask") from None
    try:
        client = Client(address, timeout=f"{connect_timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise DataError(f"cannot connect to the Dask scheduler at {address}: {e}", param="dask") from None
    try:
        yield client
    finally:
        client.close()
