"""The dask engine's cluster (params.yaml: `engine.name: dask`): the scheduler at
DASK_SCHEDULER_ADDRESS or engine.scheduler, or a local cluster started for one stage and
stopped after it. What runs on it: validation.validate_on_cluster, dask_training.

The workers run this package's code (the contract's reader and typing): they need the project
installed, as the runner has it (README: "Beyond one machine").
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import ProjectError
from ..settings import EngineSettings

if TYPE_CHECKING:
    from distributed import Client

# Dask's own variable for the scheduler's address: a workflow sets it from a secret.
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
# How long a scheduler's port has to accept a connection, tried before the client starts:
# dask's client retries a refused connection until its own timeout (engine.timeout_seconds,
# which it also keeps for reconnecting), so an address with nothing behind it would cost that.
CONNECT_SECONDS = 30


class ClusterError(ProjectError):
    """The cluster cannot do what the settings ask (no scheduler answers, too few workers, a
    worker lost mid-fit): the stage fails and saves nothing."""


def scheduler_address(engine: EngineSettings) -> str:
    """The scheduler to use: the environment's, else the setting's; "" for a local cluster."""
    return os.environ.get(SCHEDULER_VARIABLE, "").strip() or engine.scheduler


@contextmanager
def connected(engine: EngineSettings, threads: int) -> Iterator[Client]:
    """A client of the configured scheduler, or of a local cluster of engine.workers processes
    (each with `threads` threads and engine.memory_limit) that ends with the block."""
    from distributed import Client, LocalCluster

    address = scheduler_address(engine)
    if not address:
        with (
            LocalCluster(
                n_workers=engine.workers,
                threads_per_worker=threads,
                memory_limit=engine.memory_limit,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        _accepts(address)
        client = Client(address, timeout=engine.timeout_seconds)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"no dask scheduler answers at {address} ({error}): start it, or empty "
            f"engine.scheduler and {SCHEDULER_VARIABLE} for a local cluster"
        ) from None
    with client:
        yield client


def _accepts(address: str) -> None:
    """Raise OSError unless the address's port accepts a connection within CONNECT_SECONDS
    (an address without a port, such as inproc://, is left to the client)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    _, location = parse_address(address)
    host, port = parse_host_port(location)
    if port:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
