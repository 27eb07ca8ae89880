"""Thumbnail renderer: CPU work fanned out to worker processes."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

SIZES = (64, 128, 256)
PIXELS = 1920 * 1080


def shrink(pixels, factor):
    # average each block of `factor` values
    out = []
    for i in range(0, len(pixels), factor):
        out.append(sum(pixels[i:i + factor]) // factor)
    return out


def to_grey(value):
    return value * 0.299


def thumbnails(images):
    with ProcessPoolExecutor(max_workers=4) as pool:
        # one thumbnail per image, at the middle size
        return list(pool.map(lambda img: shrink(img, 4), images))


def scaled(images, factor):
    with ProcessPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda img: shrink(img, factor), images))


def greyscale_frame():
    with ProcessPoolExecutor() as pool:
        return list(pool.map(to_grey, range(PIXELS)))  # one task per pixel


def checksums(blobs):
    def checksum(blob):
        total = 0
        for b in blob:
            total = (total * 31 + b) % 1_000_003
        return total

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return pool.map(checksum, blobs)
