"""Runs on an existing Dask distributed cluster (`--cluster tcp://HOST:8786`): each training is one task, and
workers need only pynn installed. Dask is optional (`pip install 'pynn[dask]'`) and imported only here, only
when a cluster is asked for.

Dask's nanny starts each worker process with OMP_NUM_THREADS=1, so a run does the same arithmetic there as in
a local worker process, and a cluster gives the numbers of a local run with the same seeds."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from pynn.errors import PynnError
from pynn.experiments.workers import Finished, RunFn, describe_error
from pynn.words import plural

CONNECT_SECONDS = 10
INSTALL = "pip install 'pynn[dask]'"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise PynnError(f"Running on a Dask cluster needs Dask's distributed package, which is not installed here: "
                        f"{INSTALL}.") from None
    return distributed


def _check_reachable(address: str) -> None:
    """A quick TCP connection first, so a wrong host or port is one sentence within seconds rather than
    Dask's own timeout and traceback."""
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        # tls:// and the others need Dask's security settings, which pynn has no way to pass on
        raise PynnError(f"pynn reaches Dask schedulers over tcp:// only, not {scheme}://; give tcp://HOST:PORT.")
    parts = urlsplit(f"tcp://{rest}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise PynnError(f"The address {address!r} is not a scheduler address; write tcp://HOST:PORT, e.g. "
                        f"tcp://10.0.0.5:8786.")
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        raise PynnError(f"No Dask scheduler answers at {address} ({err.strerror or err}); start one with "
                        f"`dask scheduler` or check the address.") from None


def _connect(distributed, address: str):
    """A Client for the scheduler, or one sentence within a bounded time. The Client is made in a daemon
    thread because Dask's own timeout does not always hold (something other than a scheduler on the port can
    keep its handshake waiting); a thread still waiting is abandoned and ends with the process."""
    box = {}

    def connect():
        try:
            box["client"] = distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
        except Exception as err:  # noqa: BLE001 - reported below as one sentence
            # only the text: the exception's frames hold the half-made Client, whose clean-up would stall exit
            box["error"] = str(err).rstrip(".")

    thread = threading.Thread(target=connect, name="pynn-dask-connect", daemon=True)
    thread.start()
    thread.join(2 * CONNECT_SECONDS)
    if "client" in box:
        return box["client"]
    if "error" in box:
        raise PynnError(f"Cannot connect to the Dask scheduler at {address}: {box['error']}.")
    raise PynnError(f"Nothing at {address} answered as a Dask scheduler within {2 * CONNECT_SECONDS} s; is it "
                    f"the scheduler's address, and does it run a Dask version close to this one?")


class DaskExecutor:
    """Every run a task on the scheduler at `address`, reported as it finishes; a task that raises, or whose
    worker dies more often than the scheduler allows, is reported with its config and the others go on."""

    def __init__(self, address: str):
        distributed = _distributed()
        _check_reachable(address)
        self.address = address
        self._distributed = distributed
        self.client = _connect(distributed, address)
        workers = self.workers()
        # with no workers the tasks wait on the scheduler until one joins: say so rather than seem to hang
        self.where = (f"on the Dask cluster at {address} ({plural(workers, 'worker')})" if workers
                      else f"on the Dask cluster at {address} (no workers yet: the runs wait for `dask worker`)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close(timeout=CONNECT_SECONDS)
        return False

    def workers(self) -> int:
        return len(self.client.nthreads())

    def threads(self) -> int:
        return sum(self.client.nthreads().values())

    def finished(self, fn: RunFn, configs: list[dict]) -> Iterator[Finished]:
        # As many tasks in flight as the cluster has threads, topped up as each finishes: a worker then holds
        # only the task it runs, so one that dies takes no innocent queued task with it (Dask assigns a small
        # batch of tasks to workers up front), and workers that join later are used from the next top-up.
        waiting = list(range(len(configs)))
        futures: dict = {}
        finished = self._distributed.as_completed(loop=self.client.loop)

        def top_up():
            while waiting and len(futures) < max(1, self.threads()):
                i = waiting.pop(0)
                # pure=False: two equal configs are two runs, as they would be locally
                future = self.client.submit(fn, configs[i], pure=False)
                futures[future] = i
                finished.add(future)

        try:
            top_up()
            for future in finished:
                i = futures.pop(future)
                if future.status == "finished":
                    yield Finished(i, configs[i], future.result())
                elif future.status == "cancelled" and self.client.status != "running":
                    raise self._lost()  # the scheduler went away, and Dask cancelled what it held
                else:
                    yield Finished(i, configs[i], None, self._why(future))
                future.release()
                top_up()
        except OSError as err:  # Dask's CommClosedError and its kin: the connection broke mid-sweep
            raise self._lost(err) from None
        finally:
            # Ctrl-C, or the caller stopped early: leave nothing running on a cluster others share
            if self.client.status == "running":
                self.client.cancel(list(futures))

    def _lost(self, err: BaseException | None = None) -> PynnError:
        why = f" ({err})" if err else ""
        return PynnError(f"The connection to the Dask scheduler at {self.address} was lost{why}.")

    def _why(self, future) -> str:
        if future.status == "cancelled":
            return "the task was cancelled on the cluster."
        err = future.exception()
        if type(err).__name__ == "KilledWorker":
            return "the worker running it died each time it was tried (killed, out of memory or crashed)."
        return describe_error(err)
