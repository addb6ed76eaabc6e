"""fetch: download, checksum, cache, mirrors, errors — served from 127.0.0.1 and file://,
never the internet."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading

import pytest

from jaxdl.data import DatasetDownloadError, default_cache_dir, fetch
from jaxdl.data._download import atomic_replacement

PAYLOAD = bytes(range(256)) * 40  # 10 KiB
NAME = "payload.bin"
DIGESTS = {
    "md5": hashlib.md5(PAYLOAD).hexdigest(),
    "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
}
WRONG_MD5 = "0" * 32


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving ``PAYLOAD`` as ``/files/payload.bin``; yields
    its base URL. Anything else is a 404."""
    root = tmp_path_factory.mktemp("served")
    (root / "files").mkdir()
    (root / "files" / NAME).write_bytes(PAYLOAD)
    handler = functools.partial(_QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
        httpd.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def file_mirror(tmp_path):
    """A folder holding ``PAYLOAD``; yields the file:// URL of the file."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / NAME).write_bytes(PAYLOAD)
    return (folder / NAME).as_uri()


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_fetch_downloads_verifies_and_stores_in_the_cache(server, cache, kind):
    path = fetch(NAME, urls=[f"{server}files/{NAME}"], cache_dir=cache, **{kind: DIGESTS[kind]})
    assert path == cache / NAME
    assert path.read_bytes() == PAYLOAD


def test_fetch_reads_file_urls(file_mirror, cache):
    path = fetch(NAME, urls=[file_mirror], md5=DIGESTS["md5"], cache_dir=cache)
    assert path.read_bytes() == PAYLOAD


def test_fetch_takes_a_single_url_as_a_string(file_mirror, cache):
    path = fetch(NAME, urls=file_mirror, md5=DIGESTS["md5"], cache_dir=cache)
    assert path.read_bytes() == PAYLOAD


def test_fetch_uses_a_verified_cached_file_without_downloading(server, cache):
    fetch(NAME, urls=[f"{server}files/{NAME}"], md5=DIGESTS["md5"], cache_dir=cache)
    # The only URL now fails, so a second download would raise.
    path = fetch(NAME, urls=[f"{server}gone/{NAME}"], md5=DIGESTS["md5"], cache_dir=cache)
    assert path.read_bytes() == PAYLOAD


def test_fetch_replaces_a_corrupt_cached_file(server, cache):
    cache.mkdir()
    (cache / NAME).write_bytes(PAYLOAD[:-1] + b"x")
    path = fetch(NAME, urls=[f"{server}files/{NAME}"], md5=DIGESTS["md5"], cache_dir=cache)
    assert path.read_bytes() == PAYLOAD


def test_fetch_checksum_mismatch_names_both_digests(server, cache):
    with pytest.raises(DatasetDownloadError) as error:
        fetch(NAME, urls=[f"{server}files/{NAME}"], md5=WRONG_MD5, cache_dir=cache)
    assert f"md5 expected {WRONG_MD5}, got {DIGESTS['md5']}" in str(error.value)


def test_fetch_checksum_mismatch_leaves_nothing_behind(server, cache):
    with pytest.raises(DatasetDownloadError):
        fetch(NAME, urls=[f"{server}files/{NAME}"], md5=WRONG_MD5, cache_dir=cache)
    assert list(cache.iterdir()) == []  # neither the file nor a temporary part


def test_fetch_requires_every_given_digest_to_match(server, cache):
    with pytest.raises(DatasetDownloadError, match=r"sha256 expected 0+, got"):
        fetch(
            NAME,
            urls=[f"{server}files/{NAME}"],
            md5=DIGESTS["md5"],
            sha256="0" * 64,
            cache_dir=cache,
        )


def test_fetch_falls_back_to_the_next_mirror(server, file_mirror, cache):
    path = fetch(
        NAME, urls=[f"{server}missing/{NAME}", file_mirror], md5=DIGESTS["md5"], cache_dir=cache
    )
    assert path.read_bytes() == PAYLOAD


def test_fetch_all_mirrors_failing_raises_one_error_listing_each(server, tmp_path, cache):
    first, second = f"{server}missing/{NAME}", (tmp_path / "nowhere" / NAME).as_uri()
    with pytest.raises(DatasetDownloadError) as error:
        fetch(NAME, urls=[first, second], md5=DIGESTS["md5"], cache_dir=cache)
    assert [url for url, _ in error.value.attempts] == [first, second]
    message = str(error.value)
    assert "tried 2 URL(s)" in message
    assert f"{first}\n    HTTP error 404" in message
    assert f"{second}\n    URL error" in message
    assert f"save it as {cache / NAME}" in message  # where to put it by hand
    assert list(cache.iterdir()) == []


def test_fetch_gives_up_on_a_silent_server_after_the_timeout(cache):
    # A socket that listens but never answers: the connection opens, no response comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/{NAME}"
        with pytest.raises(DatasetDownloadError, match="timed out"):
            fetch(NAME, urls=[url], md5=DIGESTS["md5"], cache_dir=cache, timeout=0.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"urls": ["file:///x"]}, "md5= or sha256="),
        ({"urls": [], "md5": WRONG_MD5}, "urls is empty"),
        ({"urls": ["file:///x"], "md5": WRONG_MD5, "timeout": 0}, "timeout must be positive"),
    ],
    ids=["no-checksum", "no-url", "zero-timeout"],
)
def test_fetch_rejects_bad_arguments(cache, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fetch(NAME, cache_dir=cache, **kwargs)


@pytest.mark.parametrize("filename", ["", "..", "sub/payload.bin"])
def test_fetch_rejects_file_names_with_folders(cache, filename):
    with pytest.raises(ValueError, match="plain file name"):
        fetch(filename, urls=["file:///x"], md5=WRONG_MD5, cache_dir=cache)


def test_fetch_defaults_to_the_cache_folder(monkeypatch, tmp_path, file_mirror):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = fetch(NAME, urls=[file_mirror], md5=DIGESTS["md5"])
    assert path == tmp_path / "xdg" / "jaxdl" / NAME


def test_default_cache_dir_without_xdg_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "jaxdl"


def test_atomic_replacement_replaces_the_target_only_when_the_block_ends(tmp_path):
    target = tmp_path / NAME
    target.write_bytes(b"old")
    with atomic_replacement(target) as temporary:
        temporary.write_bytes(PAYLOAD)
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == PAYLOAD
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_replacement_keeps_the_target_when_the_block_raises(tmp_path):
    target = tmp_path / NAME
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_replacement(target) as temporary:
        temporary.write_bytes(PAYLOAD[:10])
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]
