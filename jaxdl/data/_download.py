"""Download a file once, verify its checksum, and keep it in a cache folder.

:func:`fetch` is the whole story: a file already in the cache whose checksum matches is
used as it is; otherwise each mirror is tried in turn, downloading to a temporary file in
the cache folder that replaces the target atomically (``os.replace``) only once its
checksum matches. A failed or interrupted download leaves nothing behind, and when every
mirror fails one :class:`DatasetDownloadError` lists each URL with its reason and says
where to put the file by hand.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["ChecksumError", "DatasetDownloadError", "default_cache_dir", "fetch"]

_CHUNK_BYTES = 1 << 20
_USER_AGENT = "jaxdl (https://pypi.org/project/jaxdl)"


class DatasetDownloadError(OSError):
    """No mirror delivered a file with the expected checksum; the message lists each URL
    tried with its reason and where to put the file by hand.

    Attributes:
        attempts: ``(url, reason)`` pairs, one per URL tried, in order.
        path: where the file would have been saved.
    """

    def __init__(
        self, message: str, *, attempts: Sequence[tuple[str, str]] = (), path: Path | None = None
    ) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.path = path


class ChecksumError(ValueError):
    """A file on disk does not have the checksum it should: corrupt, truncated, or another
    file under the same name. The message names the file, the expected and the actual
    digest."""


def default_cache_dir() -> Path:
    """The folder downloads go to: ``$XDG_CACHE_HOME/jaxdl`` when ``XDG_CACHE_HOME`` is
    set, else ``~/.cache/jaxdl``.

    Example:
        >>> default_cache_dir().name
        'jaxdl'
    """
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "jaxdl"


def fetch(
    filename: str,
    *,
    urls: str | Sequence[str],
    md5: str | None = None,
    sha256: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Return the path of a verified copy of ``filename`` in ``cache_dir``, downloading it
    if needed.

    Arguments:
        filename: the name to store the file under (no folders), e.g.
            ``"train-images-idx3-ubyte.gz"``.
        urls: full URLs of the same file on different mirrors, tried in order until one
            delivers the expected checksum (or a single URL). ``file://`` URLs work too.
        md5, sha256: the expected hex digest(s) of the file; at least one is required, and
            every one given must match.
        cache_dir: the folder to keep the file in (created if missing); default
            :func:`default_cache_dir`.
        timeout: seconds to wait for each connection or read before giving up on a
            mirror (default 60).

    Returns:
        ``cache_dir / filename``, a file whose digests match.

    Raises:
        DatasetDownloadError: when no URL delivered a matching file. A mirror that served
            a file with the wrong digest is listed with the expected and the actual digest.
        ValueError: for no checksum, no URL, a file name with folders, or ``timeout <= 0``.

    A cached file with the wrong digest (a corrupt earlier copy) is downloaded again and
    replaced. Digests of files on disk are remembered for the process, keyed by path, size,
    inode and modification time, so checking the cache again costs nothing.

    Example:
        >>> fetch(  # doctest: +SKIP
        ...     "t10k-labels-idx1-ubyte.gz",
        ...     urls=["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"],
        ...     md5="ec29112dd5afa0611ce80d1b7f02629c",
        ... )
        PosixPath('/home/me/.cache/jaxdl/t10k-labels-idx1-ubyte.gz')
    """
    expected = expected_digests(md5=md5, sha256=sha256)
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    if not urls:
        raise ValueError(f"fetch({filename!r}): urls is empty; give at least one URL.")
    if not filename or Path(filename).name != filename or filename in (".", ".."):
        raise ValueError(f"fetch: filename must be a plain file name, got {filename!r}.")
    if not timeout > 0:
        raise ValueError(f"fetch({filename!r}): timeout must be positive, got {timeout!r}.")
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    target = folder / filename
    if target.is_file() and checksum_mismatch(target, expected) is None:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    attempts = []
    for url in urls:
        try:
            _download(url, target, expected, timeout)
        except (OSError, ValueError, http.client.HTTPException) as error:
            attempts.append((url, _describe(error)))
        else:
            return target
    raise download_error(
        attempts,
        target,
        hint=f"To install it by hand, download {filename} from one of these URLs and save it "
        f"as {target}.",
    )


def download_error(
    attempts: Sequence[tuple[str, str]], path: Path, *, hint: str
) -> DatasetDownloadError:
    """The error for a file no URL delivered: each ``(url, reason)``, then ``hint``."""
    tried = "\n".join(f"  {url}\n    {reason}" for url, reason in attempts)
    return DatasetDownloadError(
        f"could not download {path.name}; tried {len(attempts)} URL(s):\n{tried}\n"
        f"Nothing was saved. {hint}",
        attempts=attempts,
        path=path,
    )


def expected_digests(*, md5: str | None, sha256: str | None) -> dict[str, str]:
    """``{"md5": ..., "sha256": ...}`` of the digests given, in lower case; at least one."""
    digests = {name: value.lower() for name, value in (("md5", md5), ("sha256", sha256)) if value}
    if not digests:
        raise ValueError("give the expected checksum as md5= or sha256= (or both).")
    return digests


def checksum_mismatch(path: Path, expected: dict[str, str]) -> str | None:
    """None when every digest of ``path`` matches ``expected``, else what differs."""
    stat = path.stat()
    actual = _file_digests(
        str(path.resolve()), stat.st_size, stat.st_ino, stat.st_mtime_ns, tuple(expected)
    )
    wrong = [
        f"{name} expected {expected[name]}, got {actual[name]}"
        for name in expected
        if actual[name] != expected[name]
    ]
    return "; ".join(wrong) or None


@contextlib.contextmanager
def atomic_replacement(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target`` to write; it replaces ``target`` atomically
    (``os.replace``) when the block ends, or is deleted if the block raises.

    Readers of ``target`` see the old file or the whole new one, never a part: an
    interrupted write leaves ``target`` as it was (and a hidden ``.part`` file only if the
    process itself is killed).
    """
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


# --- helpers ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _file_digests(
    path: str, size: int, inode: int, mtime_ns: int, algorithms: tuple[str, ...]
) -> dict[str, str]:
    # size, inode and mtime_ns are only the cache key: a replaced or rewritten file misses.
    del size, inode, mtime_ns
    hashes = {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            for digest in hashes.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def _download(url: str, target: Path, expected: dict[str, str], timeout: float) -> None:
    with atomic_replacement(target) as temporary:
        with open(temporary, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                shutil.copyfileobj(response, out, _CHUNK_BYTES)
        mismatch = checksum_mismatch(temporary, expected)
        if mismatch is not None:
            raise ChecksumError(f"checksum mismatch, file discarded: {mismatch}")


def _describe(error: BaseException) -> str:
    if isinstance(error, ChecksumError):
        return str(error)
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP error {error.code}: {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"URL error: {error.reason}"
    return f"{type(error).__name__}: {error}"
