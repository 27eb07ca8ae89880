"""Placing users and items on cache shards: a short hash of every id.

Each hash here is of 8 to 12 bytes: far below the 2 KiB from which hashlib lets go of the GIL, so
threads take turns on it, one hash at a time.
"""
import hashlib
import json
import struct
from concurrent.futures import ThreadPoolExecutor

SHARDS = 64
BLOOM_BITS = 1 << 20
DEFAULT_PREFS = '{"theme": "light", "digest": "weekly"}'


def bucket_of(user_id):
    digest = hashlib.md5(user_id.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:4], "big") % SHARDS


def shard_counts(user_ids):
    counts = [0] * SHARDS
    for uid in user_ids:
        digest = hashlib.sha1(uid.to_bytes(8, "big")).digest()
        counts[digest[0] % SHARDS] += 1
    return counts


def bloom_positions(item_ids, hashes):
    """Bit positions of every item in a Bloom filter: one short hash per item and seed."""
    positions = []
    for item_id in item_ids:
        for seed in range(hashes):
            h = hashlib.blake2b(struct.pack(">QI", item_id, seed), digest_size=8).digest()
            positions.append(int.from_bytes(h, "little") % BLOOM_BITS)
    return positions


def tag_keys(keys):
    """Keys are strings of any length: how long, the code does not say."""
    return [hashlib.sha1(key.encode("utf-8")).hexdigest() for key in keys]


def default_prefs(user_ids):
    return {uid: json.loads(DEFAULT_PREFS) for uid in user_ids}


def place_users(batches):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(shard_counts, batches))


def build_filters(batches, hashes=7):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(bloom_positions, batches, [hashes] * len(batches)))


def tag_all(batches):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(tag_keys, batches))
