"""Nightly integrity check of the backup volume: a SHA-256 of every archive, read in chunks.

hashlib hashes a buffer of 2 KiB or more without the GIL, and every update() here gets a whole
chunk: eight threads hash eight archives at once.
"""
import functools
import hashlib
import hmac
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

CHUNK = 1 << 20  # 1 MiB
SIGNING_KEY = b"backup-manifest-v2"


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return str(path), h.hexdigest()


def legacy_digest(path):
    """The md5 the old catalogue recorded, read 64 KiB at a time."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(64 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def signed_digest(blob):
    """Sign a manifest already in memory, a chunk at a time."""
    mac = hmac.new(SIGNING_KEY, digestmod="sha256")
    for start in range(0, len(blob), CHUNK):
        mac.update(blob[start:start + CHUNK])
    return mac.hexdigest()


def compress_archive(src, dst):
    packer = zlib.compressobj(6)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for block in iter(functools.partial(fin.read, CHUNK), b""):
            fout.write(packer.compress(block))
        fout.write(packer.flush())
    return dst


def verify_volume(root):
    archives = sorted(Path(root).rglob("*.tar"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(file_digest, archives))


def verify_legacy(archives):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(legacy_digest, archives))


def sign_manifests(blobs):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(signed_digest, blobs))


def compress_all(pairs):
    with ProcessPoolExecutor() as pool:
        return list(pool.map(compress_archive, *zip(*pairs)))


if __name__ == "__main__":
    import sys

    print(verify_volume(sys.argv[1]))
