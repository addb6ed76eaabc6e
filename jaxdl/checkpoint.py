"""Save and restore training state with orbax-checkpoint (no pickle), verified on restore.

A checkpoint holds a pytree — usually the whole :class:`jaxdl.train.TrainState` (step,
params, model state, optimizer state) — plus an optional JAX random key and a small JSON
metadata dict (the epoch, say).

**Atomic saves.** Each save is written to a temporary folder and renamed into place when
complete (orbax's commit protocol), so a crash or a kill mid-write never leaves a
checkpoint that :func:`restore` would read, and never touches the checkpoints already
there.

**Integrity.** Beside orbax's files, each checkpoint holds an integrity record (a small
JSON item, ``integrity/``, committed in the same atomic rename): every leaf's path (as
``jax.tree_util.keystr`` writes it), shape, dtype and the SHA-256 of its C-order bytes; the
same for the key; the SHA-256 of the metadata; and a SHA-256 of the record itself.
:func:`restore` checks, in this order:

1. the record and the metadata are intact (their checksums);
2. ``like`` has the checkpoint's structure (the same leaf paths) and each leaf the saved
   shape and dtype — nothing is cast, padded or truncated;
3. every restored leaf (and the key) hashes to its saved SHA-256.

A single flipped bit, a truncated or a deleted file therefore raises instead of restoring
other values. Checksums detect accidents (disk errors, partial copies), not tampering: who
can rewrite the arrays can rewrite the record too.

**Errors.** Every failure to restore raises one type, :class:`CheckpointError` (a
``ValueError``), whose message names the checkpoint folder, the step and what is wrong: a
corrupt leaf (with its path), a structure, shape or dtype mismatch (with both sides),
missing or unreadable files. Its ``kind`` attribute is ``"missing"``, ``"corrupt"`` or
``"mismatch"``. When there is no such folder or step it is a
:class:`CheckpointNotFoundError`, which is also a ``FileNotFoundError``.

**Older checkpoints** (written before the integrity record existed) still restore: the
structure, shapes and dtypes are checked against orbax's own metadata, the values cannot
be verified, and a :class:`CheckpointWarning` says so. Save them again to add the record.

Example:
    >>> import tempfile, jax, jax.numpy as jnp
    >>> from jaxdl import checkpoint
    >>> tree = {"w": jnp.arange(3.0)}
    >>> folder = tempfile.mkdtemp()
    >>> checkpoint.save(folder, tree, step=1, key=jax.random.key(0), metadata={"epoch": 1})
    >>> restored = checkpoint.restore(folder, like=tree)
    >>> restored.step, restored.metadata, restored.tree["w"]
    (1, {'epoch': 1}, Array([0., 1., 2.], dtype=float32))
    >>> checkpoint.restore(folder, like={"w": jnp.zeros(3, jnp.int32)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jaxdl.checkpoint.CheckpointError: checkpoint ... step 1 does not match `like` (dict): ...
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxdl._checks import check_int

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointWarning",
    "Checkpointer",
    "latest_step",
    "restore",
    "save",
]

# Metadata entry describing the saved key (its PRNG implementation, shape and dtype).
_KEY = "_jaxdl_key"
# Metadata entry marking a checkpoint that has an integrity record (its format version).
_FORMAT = "_jaxdl_format"
_VERSION = 1
# The orbax item holding the integrity record.
_INTEGRITY = "integrity"
# How many mismatching leaves an error message lists.
_SHOWN = 3


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored: missing, corrupt, or not shaped like ``like``.

    The message reads ``"checkpoint DIR step N <reason>"``. Attributes: ``directory``,
    ``step`` (None when no step was found), ``kind`` (``"missing"``, ``"corrupt"`` or
    ``"mismatch"``) and ``reason`` (the message without the folder and step).
    """

    def __init__(self, directory: Any, step: int | None, kind: str, reason: str) -> None:
        self.directory = str(directory)
        self.step = step
        self.kind = kind
        self.reason = reason
        where = f"checkpoint {self.directory}" + ("" if step is None else f" step {step}")
        super().__init__(f"{where} {reason}")


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint folder, or no checkpoint of the requested step (``kind="missing"``)."""


class CheckpointWarning(UserWarning):
    """A checkpoint restored without verifying its values (it has no integrity record)."""


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

        if max_to_keep is not None:
            max_to_keep = check_int("Checkpointer", "max_to_keep", max_to_keep, minimum=1)
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
        """Write checkpoint ``step`` (an int ≥ 0); returns once it is committed on disk.

        ``metadata`` must be a JSON-serialisable dict; keys starting with ``_jaxdl_`` are
        reserved. Saving a step that exists replaces it.
        """
        ocp = self._ocp
        step = check_int("Checkpointer.save", "step", step, minimum=0)
        _check_leaves(tree)
        metadata = _check_metadata(metadata)
        items = {"tree": tree}
        key_record = None
        if key is not None:
            items["key"] = data = _key_data(key)
            typed = data is not key
            metadata[_KEY] = {
                "impl": str(jax.random.key_impl(key)) if typed else None,
                "shape": list(data.shape),
                "dtype": str(data.dtype),
            }
            key_record = _leaf_record("key", data)
        metadata[_FORMAT] = _VERSION
        record = {
            "format": _VERSION,
            "leaves": [
                _leaf_record(jax.tree_util.keystr(path), leaf)
                for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
            ],
            "key": key_record,
            "metadata_sha256": _json_digest(metadata),
        }
        record["record_sha256"] = _json_digest(record)
        args = {
            "state": ocp.args.StandardSave(items),
            "metadata": ocp.args.JsonSave(metadata),
            _INTEGRITY: ocp.args.JsonSave(record),
        }
        try:
            self._manager.save(step, args=ocp.args.Composite(**args), force=True)
            self._manager.wait_until_finished()
        except BaseException:
            # orbax writes into "<step>.orbax-checkpoint-tmp*" and renames on success; a
            # failed write is never read as a checkpoint, and is removed here too.
            for partial in self.directory.glob(f"{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)
            raise

    def restore(self, like: Any, *, step: int | None = None) -> Checkpoint:
        """Read checkpoint ``step`` (default: the latest) into the structure of ``like``.

        ``like`` is a pytree of arrays or ``jax.ShapeDtypeStruct``s with the saved
        structure, shapes and dtypes. Raises :class:`CheckpointError` (see the module
        docstring) for a missing, corrupt or mismatching checkpoint.
        """
        step = self._find_step(step)
        metadata = self._read_json(step, "metadata")
        if not isinstance(metadata, dict):
            raise self._error(step, "corrupt", "has metadata that is not a JSON object.")
        has_record = (self.directory / str(step) / _INTEGRITY).is_dir()
        if has_record or metadata.get(_FORMAT) is not None:
            record = self._read_record(step, metadata)
            self._check_like(step, like, record["leaves"])
            abstract = _abstract_of(like)
        else:
            warnings.warn(
                f"checkpoint {self.directory} step {step} has no integrity record (it was "
                "written by an older jaxdl): its structure, shapes and dtypes are checked, "
                "its values cannot be; save it again to add the record.",
                CheckpointWarning,
                stacklevel=3,
            )
            record = None
            abstract = _abstract_of(like)
            self._check_like(step, like, self._legacy_leaves(step, abstract))
        metadata.pop(_FORMAT, None)
        key_info = metadata.pop(_KEY, None)
        if key_info is not None:
            abstract["key"] = self._key_struct(step, key_info)
        items = self._read_state(step, abstract)
        if record is not None:
            self._verify(step, items, record)
        key = items.get("key")
        if key is not None and key_info["impl"]:
            try:
                key = jax.random.wrap_key_data(key, impl=key_info["impl"])
            except (ValueError, TypeError, KeyError) as error:
                raise self._error(step, "corrupt", f"has an unusable key: {error}") from error
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

    # -- restore's steps ----------------------------------------------------------------

    def _error(self, step: int | None, kind: str, reason: str) -> CheckpointError:
        return CheckpointError(self.directory, step, kind, reason)

    def _find_step(self, step: int | None) -> int:
        try:
            steps = sorted(self.all_steps())
        except Exception as error:
            raise self._error(None, "corrupt", f"cannot be listed: {_brief(error)}") from error
        if step is None:
            if not steps:
                raise CheckpointNotFoundError(
                    self.directory, None, "missing", "holds no checkpoint (found steps [])."
                )
            return steps[-1]
        step = check_int("Checkpointer.restore", "step", step, minimum=0)
        if step not in steps:
            raise CheckpointNotFoundError(
                self.directory, step, "missing", f"does not exist (found steps {steps})."
            )
        return step

    def _read_json(self, step: int, item: str) -> Any:
        ocp = self._ocp
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(**{item: ocp.args.JsonRestore()})
            )
            return restored[item]
        except FileNotFoundError as error:
            raise self._error(step, "missing", f"is missing its {item} file.") from error
        except Exception as error:
            reason = f"has an unreadable {item} file: {_brief(error)}"
            raise self._error(step, "corrupt", reason) from error

    def _read_record(self, step: int, metadata: dict) -> dict:
        if not (self.directory / str(step) / _INTEGRITY).is_dir():
            raise self._error(step, "missing", f"is missing its {_INTEGRITY} record.")
        record = self._read_json(step, _INTEGRITY)
        claimed = record.pop("record_sha256", None) if isinstance(record, dict) else None
        if not isinstance(claimed, str) or _json_digest(record) != claimed:
            raise self._error(step, "corrupt", f"has a corrupt {_INTEGRITY} record (checksum).")
        if record.get("format") != _VERSION:
            raise self._error(
                step,
                "corrupt",
                f"has an integrity record of format {record.get('format')!r}; this jaxdl "
                f"reads format {_VERSION} (was it written by a newer jaxdl?).",
            )
        if not _valid_record(record):
            raise self._error(step, "corrupt", f"has a malformed {_INTEGRITY} record.")
        if _json_digest(metadata) != record["metadata_sha256"]:
            raise self._error(step, "corrupt", "has corrupt metadata (checksum).")
        return record

    def _legacy_leaves(self, step: int, abstract: dict) -> list[dict] | None:
        """The saved leaves as orbax's metadata describes them (paths named like ``like``'s,
        matched by their plain key names), or None if that metadata cannot be read."""
        from etils import epath

        try:
            handler = self._ocp.StandardCheckpointHandler()
            saved = handler.metadata(epath.Path(self.directory / str(step) / "state"))
            saved = getattr(saved, "tree", saved)["tree"]
        except Exception:
            return None
        names = {
            _plain(path): jax.tree_util.keystr(path)
            for path, _ in jax.tree_util.tree_leaves_with_path(abstract["tree"])
        }
        return [
            {
                "path": names.get(_plain(path), jax.tree_util.keystr(path)),
                "shape": list(leaf.shape),
                "dtype": str(np.dtype(leaf.dtype)),
            }
            for path, leaf in jax.tree_util.tree_leaves_with_path(saved)
        ]

    def _check_like(self, step: int, like: Any, saved: list[dict] | None) -> None:
        if saved is None:
            return
        problem = _compare(saved, like)
        if problem:
            raise self._error(
                step, "mismatch", f"does not match `like` ({type(like).__name__}): {problem}"
            )

    def _key_struct(self, step: int, key_info: Any) -> jax.ShapeDtypeStruct:
        try:
            return jax.ShapeDtypeStruct(tuple(key_info["shape"]), np.dtype(key_info["dtype"]))
        except (TypeError, KeyError, ValueError) as error:
            raise self._error(step, "corrupt", "has malformed key metadata.") from error

    def _read_state(self, step: int, abstract: dict) -> dict:
        ocp = self._ocp
        try:
            with warnings.catch_warnings():
                # orbax warns (rather than fails) about some inconsistencies; they are
                # either harmless or caught by the checksums below.
                warnings.simplefilter("ignore")
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
                )
            items = restored["state"]
        except FileNotFoundError as error:
            raise self._error(step, "missing", f"is missing files: {_brief(error)}") from error
        except Exception as error:
            raise self._error(step, "corrupt", f"cannot be read: {_brief(error)}") from error
        if not isinstance(items, dict) or "tree" not in items:
            raise self._error(step, "corrupt", "has no saved tree.")
        return items

    def _verify(self, step: int, items: dict, record: dict) -> None:
        leaves = jax.tree_util.tree_leaves_with_path(items["tree"])
        restored = [_leaf_record(jax.tree_util.keystr(p), leaf) for p, leaf in leaves]
        if record["key"] is not None:
            if "key" not in items:
                raise self._error(step, "corrupt", "is missing its saved key.")
            restored.append(_leaf_record("key", items["key"]))
        expected = [*record["leaves"], *([record["key"]] if record["key"] else [])]
        if len(restored) != len(expected):
            raise self._error(
                step,
                "corrupt",
                f"restored {len(restored)} arrays where {len(expected)} were saved.",
            )
        for got, want in zip(restored, expected):
            if got != want:
                what = "key" if want["path"] == "key" else f"leaf {want['path'] or '(root)'}"
                if (got["shape"], got["dtype"]) != (want["shape"], want["dtype"]):
                    detail = f"restored as {_spec(got)}, saved as {_spec(want)}"
                else:
                    detail = "its SHA-256 differs from the saved one"
                raise self._error(step, "corrupt", f"is corrupt: {what}: {detail}.")


# -- helpers ------------------------------------------------------------------------------


def _check_leaves(tree: Any) -> None:
    """Only arrays and numbers can be checkpointed: name the first leaf that is neither."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, int, float, bool)):
            raise TypeError(
                f"cannot checkpoint the leaf at {jax.tree_util.keystr(path) or 'the root'}: "
                f"expected an array or a number, got {type(leaf).__name__}."
            )


def _check_metadata(metadata: Any) -> dict:
    """A JSON-serialisable copy of ``metadata`` without reserved keys."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"checkpoint metadata must be a dict, got {type(metadata).__name__}.")
    reserved = sorted(str(k) for k in metadata if str(k).startswith("_jaxdl_"))
    if reserved:
        raise ValueError(f"checkpoint metadata keys starting with _jaxdl_ are reserved: {reserved}")
    try:
        return json.loads(json.dumps(metadata))
    except (TypeError, ValueError) as error:
        raise TypeError(f"checkpoint metadata must be JSON-serialisable: {error}.") from error


def _key_data(key: Any) -> jax.Array:
    """The raw data of a typed key, or a legacy ``uint32`` key itself."""
    if not isinstance(key, jax.Array):
        raise TypeError(
            f"key must be a JAX random key (jax.random.key(seed)), got {type(key).__name__}."
        )
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def _leaf_record(path: str, leaf: Any) -> dict:
    """A leaf's path, shape, dtype and the SHA-256 of its C-order bytes."""
    array = np.asarray(leaf)
    return {
        "path": path,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sha256": hashlib.sha256(array.tobytes(order="C")).hexdigest(),
    }


def _json_digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _valid_record(record: dict) -> bool:
    """True when the record has the fields and types that restore reads."""

    def leaf_ok(leaf: Any) -> bool:
        return (
            isinstance(leaf, dict)
            and isinstance(leaf.get("path"), str)
            and isinstance(leaf.get("shape"), list)
            and all(type(n) is int and n >= 0 for n in leaf["shape"])
            and isinstance(leaf.get("dtype"), str)
            and isinstance(leaf.get("sha256"), str)
        )

    return (
        isinstance(record.get("metadata_sha256"), str)
        and "format" in record
        and isinstance(record.get("leaves"), list)
        and all(leaf_ok(leaf) for leaf in record["leaves"])
        and (record.get("key") is None or leaf_ok(record["key"]))
    )


def _abstract_of(like: Any) -> dict:
    """``{"tree": ...}`` with every leaf of ``like`` as a shape-and-dtype description."""
    from orbax.checkpoint import utils

    return {"tree": jax.tree_util.tree_map(utils.to_shape_dtype_struct, like)}


def _like_spec(leaf: Any) -> tuple[list[int], str]:
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return list(leaf.shape), str(np.dtype(leaf.dtype))
    array = np.asarray(leaf)
    return list(array.shape), str(array.dtype)


def _spec(leaf: dict) -> str:
    return f"{leaf['dtype']}{leaf['shape']}"


def _plain(path: Sequence[Any]) -> tuple[str, ...]:
    """A key path as plain names: ``.params['w']`` and ``['params']['w']`` agree."""
    names = []
    for entry in path:
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                names.append(str(getattr(entry, attribute)))
                break
        else:
            names.append(str(entry))
    return tuple(names)


def _compare(saved: list[dict], like: Any) -> str:
    """What differs between the saved leaves and ``like`` ("" when nothing does)."""
    wanted = {
        jax.tree_util.keystr(path): _like_spec(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(like)
    }
    have = {leaf["path"]: (leaf["shape"], leaf["dtype"]) for leaf in saved}
    missing = [path for path in have if path not in wanted]
    extra = [path for path in wanted if path not in have]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"saved but not in `like`: {_listing(missing)}")
        if extra:
            parts.append(f"in `like` but not saved: {_listing(extra)}")
        return (
            f"the structures differ ({len(have)} saved leaves, {len(wanted)} in `like`); "
            + "; ".join(parts)
            + "."
        )
    different = [
        f"{path or '(root)'} is {have[path][1]}{have[path][0]} in the checkpoint but "
        f"{wanted[path][1]}{wanted[path][0]} in `like`"
        for path in have
        if tuple(have[path][0]) != tuple(wanted[path][0]) or have[path][1] != wanted[path][1]
    ]
    if different:
        more = len(different) - _SHOWN
        tail = f" (and {more} more)" if more > 0 else ""
        return "; ".join(different[:_SHOWN]) + tail + "."
    return ""


def _listing(paths: list[str]) -> str:
    shown = ", ".join(path or "(root)" for path in paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def _brief(error: BaseException) -> str:
    """The error's type and the first line of its message, at most 300 characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # tensorstore appends its whole JSON spec to each message; the rest says what failed.
    text = lines[0].split(" [tensorstore_spec=")[0] if lines else ""
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- functions ------------------------------------------------------------------------------


def save(
    directory: str | os.PathLike,
    tree: Any,
    *,
    step: int,
    key: jax.Array | None = None,
    metadata: dict | None = None,
    max_to_keep: int | None = None,
) -> None:
    """Save ``tree`` (and ``key``, ``metadata``) as checkpoint ``step`` in ``directory``.

    The write is atomic: until it is committed, restore sees the previous checkpoints.
    """
    with Checkpointer(directory, max_to_keep=max_to_keep) as checkpointer:
        checkpointer.save(step, tree, key=key, metadata=metadata)


def restore(directory: str | os.PathLike, like: Any, *, step: int | None = None) -> Checkpoint:
    """Restore checkpoint ``step`` (default: the latest) of ``directory`` shaped like ``like``.

    Raises :class:`CheckpointNotFoundError` (a :class:`CheckpointError` and a
    ``FileNotFoundError``) when there is no such folder or step, and
    :class:`CheckpointError` (a ``ValueError``) when the checkpoint is corrupt, has missing
    files, or does not match ``like``'s structure, shapes or dtypes.
    """
    if not Path(directory).is_dir():
        raise CheckpointNotFoundError(
            Path(directory).absolute(), None, "missing", "does not exist: no checkpoint folder."
        )
    checkpointer = _open(directory)
    with checkpointer:
        return checkpointer.restore(like, step=step)


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest checkpoint step in ``directory``, or None if there is none."""
    if not Path(directory).is_dir():
        return None
    with _open(directory) as checkpointer:
        return checkpointer.latest_step()


def _open(directory: str | os.PathLike) -> Checkpointer:
    try:
        return Checkpointer(directory)
    except Exception as error:
        raise CheckpointError(
            Path(directory).absolute(), None, "corrupt", f"cannot be opened: {_brief(error)}"
        ) from error
