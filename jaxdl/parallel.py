"""Data parallelism over a device mesh, with JAX's own machinery (``jax.sharding``).

:func:`data_mesh` builds a one-axis :class:`jax.sharding.Mesh` named ``"data"``;
``jaxdl.train.fit(..., mesh=mesh)`` then splits every batch over it, and
``jaxdl.train.fit_sweep(..., mesh=mesh)`` splits the runs:

- the parameters, the optimizer state and the model state are replicated on every device;
- the training set is replicated too (each device gathers its own share of each batch
  from its copy, so shuffling needs no communication);
- each batch of ``batch_size`` samples is split into ``batch_size / devices`` per
  device, the forward and backward passes run where the samples are, and XLA adds the
  all-reduce that sums the gradients. The step is the single-device step, partitioned
  by the compiler, so the results equal one device's up to the order of float32 sums.

Multi-host (several processes, each with its own devices)::

    import jax
    jax.distributed.initialize()          # once per process, before anything else in JAX
    from jaxdl import parallel, train
    mesh = parallel.data_mesh()           # every device of every process
    train.fit(..., mesh=mesh)             # every process runs the same program

Every process runs the same script with the same data and the same key; each places only
the shards its own devices hold (:func:`put`), and XLA's collectives cross the hosts.
On a single machine, ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` makes
eight CPU devices to try it on.

Example:
    >>> from jaxdl import parallel
    >>> mesh = parallel.data_mesh()
    >>> mesh.axis_names
    ('data',)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "batch_sharding", "data_mesh", "put", "replicated", "shard_count"]

AXIS = "data"
"""The name of the mesh axis that batches (or a sweep's runs) are split over."""


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: ``jax.devices()``, all
    devices of all processes).

    Arguments:
        devices: the devices to use, in order (default ``None``: every device).

    Returns:
        a :class:`jax.sharding.Mesh` of shape ``(len(devices),)``.

    Raises:
        ValueError: ``devices`` is empty.
        TypeError: an entry is not a JAX device.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh: devices is empty; pass at least one device.")
    for device in devices:
        if not isinstance(device, jax.Device):
            raise TypeError(
                f"data_mesh: expected JAX devices (jax.devices()), got {type(device).__name__}."
            )
    return Mesh(np.array(devices), (AXIS,))


def shard_count(mesh: Mesh) -> int:
    """The number of devices along the ``"data"`` axis."""
    return int(mesh.shape[AXIS])


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of a value held whole on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The sharding that splits the leading (batch or run) axis over ``"data"``."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def put(tree: Any, sharding: NamedSharding) -> Any:
    """Place every array of ``tree`` with ``sharding``, each process filling only the
    shards its own devices hold (so it also works across hosts)."""

    def place(leaf: Any) -> jax.Array:
        if isinstance(leaf, jax.Array) and leaf.is_fully_addressable:
            return jax.device_put(leaf, sharding)
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(place, tree)


def check_mesh(mesh: Any, name: str) -> Mesh:
    """``mesh``, after checking it is a mesh with a ``"data"`` axis."""
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{name}: mesh must be a jax.sharding.Mesh (jaxdl.parallel.data_mesh()), "
            f"got {type(mesh).__name__}."
        )
    if AXIS not in mesh.axis_names:
        raise ValueError(
            f"{name}: the mesh needs an axis named {AXIS!r} (jaxdl.parallel.data_mesh()), "
            f"got axes {mesh.axis_names}."
        )
    return mesh
