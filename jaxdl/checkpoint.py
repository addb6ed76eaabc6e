"""Save and restore training state with orbax-checkpoint (no pickle).

A checkpoint holds a pytree — usually the whole :class:`jaxdl.train.TrainState` (step,
params, model state, optimizer state) — plus an optional JAX random key and a small JSON
metadata dict (the epoch, say). Each save is written to a temporary folder and renamed
into place when complete (orbax's commit protocol), so a crash mid-write never leaves a
checkpoint that :func:`restore` would read.

Example:
    >>> import tempfile, jax, jax.numpy as jnp
    >>> from jaxdl import checkpoint
    >>> tree = {"w": jnp.arange(3.0)}
    >>> folder = tempfile.mkdtemp()
    >>> checkpoint.save(folder, tree, step=1, key=jax.random.key(0), metadata={"epoch": 1})
    >>> restored = checkpoint.restore(folder, like=tree)
    >>> restored.step, restored.metadata, restored.tree["w"]
    (1, {'epoch': 1}, Array([0., 1., 2.], dtype=float32))
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["Checkpoint", "Checkpointer", "latest_step", "restore", "save"]

# Metadata entry describing the saved key (its PRNG implementation, shape and dtype).
_KEY = "_jaxdl_key"


class Checkpoint(NamedTuple):
    """What :func:`restore` returns."""

    tree: Any
    """The restored pytree, with the structure of ``like``."""
    key: jax.Array | None
    """The saved random key (typed if it was saved typed), or None."""
    step: int
    """The checkpoint's step number."""
    metadata: dict
    """The saved JSON metadata (``{}`` if none)."""


class Checkpointer:
    """A folder of numbered checkpoints, keeping at most ``max_to_keep`` of them.

    Arguments:
        directory: where checkpoints live (created if missing); one sub-folder per step.
        max_to_keep: how many recent checkpoints to keep (default None: all).

    Use as a context manager, or call :meth:`close` when done.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int | None = None) -> None:
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(
        self,
        step: int,
        tree: Any,
        *,
        key: jax.Array | None = None,
        metadata: dict | None = None,
    ) -> None:
        """Write checkpoint ``step``; returns once it is committed on disk."""
        ocp = self._ocp
        _check_leaves(tree)
        metadata = dict(metadata or {})
        items = {"tree": tree}
        if key is not None:
            typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
            items["key"] = data = jax.random.key_data(key) if typed else key
            metadata[_KEY] = {
                "impl": str(jax.random.key_impl(key)) if typed else None,
                "shape": list(data.shape),
                "dtype": str(data.dtype),
            }
        args = {"state": ocp.args.StandardSave(items), "metadata": ocp.args.JsonSave(metadata)}
        try:
            self._manager.save(int(step), args=ocp.args.Composite(**args), force=True)
            self._manager.wait_until_finished()
        except BaseException:
            # orbax writes into "<step>.orbax-checkpoint-tmp*" and renames on success; a
            # failed write is never read as a checkpoint, and is removed here too.
            for partial in self.directory.glob(f"{int(step)}.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)
            raise

    def restore(self, like: Any, *, step: int | None = None) -> Checkpoint:
        """Read checkpoint ``step`` (default: the latest) into the structure of ``like``."""
        ocp = self._ocp
        step = self.latest_step() if step is None else int(step)
        if step is None or step not in self.all_steps():
            raise FileNotFoundError(
                f"no checkpoint {'' if step is None else step} in {self.directory} "
                f"(found steps {self.all_steps()})."
            )
        metadata = self._manager.restore(
            step, args=ocp.args.Composite(metadata=ocp.args.JsonRestore())
        )["metadata"]
        abstract = {"tree": jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, like)}
        key_info = metadata.pop(_KEY, None)
        if key_info is not None:
            abstract["key"] = jax.ShapeDtypeStruct(key_info["shape"], key_info["dtype"])
        try:
            items = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            )["state"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"checkpoint {step} in {self.directory} does not match the structure of "
                f"`like` ({type(like).__name__}): {error}"
            ) from error
        key = items.get("key")
        if key is not None and key_info["impl"]:
            key = jax.random.wrap_key_data(key, impl=key_info["impl"])
        return Checkpoint(items["tree"], key, step, metadata)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_leaves(tree: Any) -> None:
    """Only arrays and numbers can be checkpointed: name the first leaf that is neither."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, int, float, bool)):
            raise TypeError(
                f"cannot checkpoint the leaf at {jax.tree_util.keystr(path) or 'the root'}: "
                f"expected an array or a number, got {type(leaf).__name__}."
            )


def save(
    directory: str | os.PathLike,
    tree: Any,
    *,
    step: int,
    key: jax.Array | None = None,
    metadata: dict | None = None,
    max_to_keep: int | None = None,
) -> None:
    """Save ``tree`` (and ``key``, ``metadata``) as checkpoint ``step`` in ``directory``."""
    with Checkpointer(directory, max_to_keep=max_to_keep) as checkpointer:
        checkpointer.save(step, tree, key=key, metadata=metadata)


def restore(directory: str | os.PathLike, like: Any, *, step: int | None = None) -> Checkpoint:
    """Restore checkpoint ``step`` (default: the latest) of ``directory`` shaped like ``like``.

    Raises ``FileNotFoundError`` when there is no such checkpoint and ``ValueError`` when
    its contents do not match ``like``'s structure.
    """
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"no checkpoint folder at {directory}.")
    with Checkpointer(directory) as checkpointer:
        return checkpointer.restore(like, step=step)


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest checkpoint step in ``directory``, or None if there is none."""
    if not Path(directory).is_dir():
        return None
    with Checkpointer(directory) as checkpointer:
        return checkpointer.latest_step()
