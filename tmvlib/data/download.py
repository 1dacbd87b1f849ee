"""Resumable, checksummed download of the official NIH ChestX-ray14 files (standard library HTTP only).

Image parts: the 12 links of NIH's ``batch_download_zips.py`` (box.com static links), saved as
``images_001.tar.gz`` .. ``images_012.tar.gz``. NIH publishes no stable direct link for the metadata
CSVs, so ``Data_Entry_2017_v2020.csv`` and ``BBox_List_2017.csv`` (and, if wanted, the Google 2019
expert labels) are fetched by hand from ``NIH_DOWNLOAD_PAGE`` into the same folder, or passed via
``urls`` if a direct link is known. NIH publishes no checksums either: pass your own (sha256) to pin a
download you have verified once.
"""
from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path


from ..fingerprint import sha256_file
from ..progress import progress_bar
from .errors import DataError

NIH_DOWNLOAD_PAGE = "https://nihcc.app.box.com/v/ChestXray-NIHCC"
_BOX = "https://nihcc.box.com/shared/static/"
NIH_IMAGE_URLS: dict[str, str] = {
    f"images_{i:03d}.tar.gz": _BOX + key + ".gz"
    for i, key in enumerate([
        "vfk49d74nhbxq3nqjg0900w5nvkorp5c", "i28rlmbvmfjbl8p2n3ril0pptcmcu9d1",
        "f1t00wrtdk94satdfb9olcolqx20z2jp", "0aowwzs5lhjrceb3qp67ahp0rd1l1etg",
        "v5e3goj22zr6h8tzualxfsqlqaygfbsn", "asi7ikud9jwnkrnkj99jnpfkjdes7l6l",
        "jn1b4mw4n6lnh74ovmcjb8y48h8xj07n", "tvpxmn7qyrgl0w8wfh9kqfjskv6nmm1j",
        "upyy3ml7qdumlgk2rfcvlb9k6gvqq2pj", "l6nilvfa9cg3s28tqv1qc1olm3gnz54p",
        "hhq8fkdgvcari67vfhs7ppg2w6ni4jze", "ioqwiy20ihqwyr8pf4c24eazhh281pbu",
    ], start=1)
}
_USER_AGENT = "tmvlib-download/0.1 (urllib)"


class _Incomplete(Exception):
    """The connection ended before the announced length; the ``.part`` file is kept for resuming."""


def _total_from_content_range(value: str | None) -> int | None:
    match = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", value or "")
    return int(match.group(1)) if match else None


def _fetch_once(url: str, part: Path, progress: bool, chunk_size: int, timeout: float) -> None:
    """One request into ``part``, resuming from its size; raises ``_Incomplete`` on a short read."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # Range past the end: the .part is complete if it has exactly the announced size
            if _total_from_content_range(err.headers.get("Content-Range")) == offset:
                return
            part.unlink()  # longer than the file or unknown: start again
            raise _Incomplete(f"{url}: server rejected resume at byte {offset}") from err
        raise
    with response:
        if offset and response.status == 206:
            start = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
            if not start or int(start.group(1)) != offset:
                raise DataError(f"{url}: server answered range {response.headers.get('Content-Range')!r} "
                                f"to a request from byte {offset}")
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # server ignored Range (200): restart cleanly
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with open(part, mode) as fh, progress_bar(None, progress, total=total, initial=offset,
                                                  unit="B", unit_scale=True, unit_divisor=1024,
                                                  desc=part.name[:-5]) as bar:
            while True:
                try:
                    chunk = response.read(chunk_size)
                except (http.client.IncompleteRead, ConnectionError, TimeoutError) as err:
                    raise _Incomplete(f"{url}: connection lost at byte {received} ({err})") from err
                if not chunk:
                    break
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received < total:
        # http.client returns b"" rather than raising when the peer closes early
        raise _Incomplete(f"{url}: connection closed at byte {received} of {total}")


def download_file(url: str, target: str | Path, *, sha256: str | None = None, progress: bool = True,
                  chunk_size: int = 1 << 20, timeout: float = 60.0, retries: int = 3) -> Path:
    """Download ``url`` to ``target`` via ``<target>.part``, resuming and retrying interrupted transfers.

    A ``target`` that exists (and matches ``sha256`` when given) is not fetched again. The final name
    appears only once the file is complete and verified.

    Returns:
        ``target`` as a ``Path``.

    Raises:
        DataError: HTTP error or repeated connection loss (naming the URL; the ``.part`` file is kept
            for a later resume), or a checksum mismatch (naming the file and both hashes; the bad
            download is deleted).
    """
    target = Path(target)
    part = target.with_name(target.name + ".part")
    if target.is_file():
        if sha256 is None or sha256_file(target) == sha256.lower():
            return target
        target.unlink()  # a stale or damaged earlier file: fetch again
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, progress, chunk_size, timeout)
            break
        except _Incomplete as err:
            if attempt == retries:
                raise DataError(f"download of {url} failed after {retries + 1} attempts: {err}; "
                                f"rerun to resume from {part}") from err
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == retries:
                raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
        except (urllib.error.URLError, OSError) as err:
            if attempt == retries:
                raise DataError(f"download of {url} failed: {err}") from err
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256.lower():
            part.unlink()  # resuming a corrupt file would only reproduce the mismatch
            raise DataError(f"checksum mismatch for {target.name} (from {url}): "
                            f"expected sha256 {sha256.lower()}, got {actual}")
    os.replace(part, target)
    return target


def download_nih(dest: str | Path, *, urls: dict[str, str] | None = None,
                 checksums: dict[str, str] | None = None, progress: bool = True,
                 chunk_size: int = 1 << 20, timeout: float = 60.0, retries: int = 3) -> list[Path]:
    """Download the NIH files into ``dest`` (``urls``: file name -> URL; default ``NIH_IMAGE_URLS``).

    ``checksums`` maps file names to sha256 hex digests; files without one are not verified.

    Returns:
        The downloaded (or already present) file paths, in ``urls`` order.
    """
    dest = Path(dest)
    urls = dict(NIH_IMAGE_URLS if urls is None else urls)
    checksums = dict(checksums or {})
    unknown = sorted(set(checksums) - set(urls))
    if unknown:
        raise DataError(f"checksums given for files that are not downloaded: {unknown}")
    return [
        download_file(url, dest / name, sha256=checksums.get(name), progress=progress,
                      chunk_size=chunk_size, timeout=timeout, retries=retries)
        for name, url in urls.items()
    ]
