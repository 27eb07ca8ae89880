"""The shop's wire protocol and admin helpers: the shapes real libraries are full of.

Most of these look busy (loops, arithmetic, hashing, recursion) and are light: a few headers, one
key, a config dict, a cursor stepping through one packet. Each negative here was a wrong `cpu` on
real code (bench/realcode, batch cls14); the positives beside them are the real CPU work of the
same shape, which stays `cpu`.
"""
import hashlib
import hmac
import struct

RECORD = struct.Struct("!BHI")
SCHEMES = ("http", "https", "s3")


# --- hashing: a value the function makes is a key, not a payload ---------------------------------

def session_token(secret, user_id):  # kind: unknown
    # one HMAC over an encoded id: a few microseconds whatever the caller does
    return hmac.new(secret, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()


def digest_blobs(blobs):  # kind: cpu, releases-gil
    # hashing every item of a batch is the work
    return [hashlib.sha256(b).hexdigest() for b in blobs]


# --- recursion: walking a structure is not computing over it -------------------------------------

def merge_settings(base, override):  # kind: unknown
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_settings(base[key], value)
        else:
            base[key] = value
    return base


def strip_scheme(path):  # kind: unknown
    if isinstance(path, list):
        return [strip_scheme(p) for p in path]
    for scheme in SCHEMES:
        if path.startswith(scheme + "://"):
            path = path[len(scheme) + 3:]
    return path.rstrip("/")


class Node:
    def __init__(self, size, children):
        self.size = size
        self.children = children


def tree_size(node):  # kind: cpu
    # a tree walk adding up what every call returns
    return node.size + sum(tree_size(c) for c in node.children)


# --- loops: bookkeeping beside the items, cursors, halving, formatting ---------------------------

def with_progress(items, report, every=100):  # kind: unknown
    # a counter and a clock beside each item: the caller's loop does the work
    import time

    done, last, started = 0, 0, time.monotonic()
    for item in items:
        yield item
        done += 1
        if done - last >= every:
            report(done, time.monotonic() - started)
            last = done


def encode_varint(value):  # kind: unknown
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def records(packet):  # kind: unknown
    # a cursor stepping through one packet, record by record
    found, i = [], 0
    while i < len(packet):
        kind, length, seq = RECORD.unpack_from(packet, i)
        i += RECORD.size
        found.append((kind, seq, packet[i:i + length]))
        i += length
    return found


def find_slot(slots, when):  # kind: unknown
    lo, hi = 0, len(slots)
    while lo < hi:
        mid = (lo + hi) // 2
        if slots[mid] < when:
            lo = mid + 1
        else:
            hi = mid
    return lo


def chunked(buf, size):  # kind: unknown
    return [buf[i:i + size] for i in range(0, len(buf), size)]


def status_lines(workers):  # kind: unknown
    lines = []
    for w in workers:
        lines.append("%-20s %6d" % (w.name, w.pid) + " " + w.state)
    return "\n".join(lines)


def mask_frame(payload, key):  # kind: cpu
    # every byte of the payload, in Python
    out = bytearray(payload)
    for i in range(len(out)):
        out[i] ^= key[i % 4]
    return bytes(out)


def revenue(lines, rate):  # kind: cpu
    # arithmetic on what each line holds
    total = 0.0
    for line in lines:
        fields = line.split(",")
        total += float(fields[2]) * float(fields[3]) * rate
    return total


# --- waiting: protocol bookkeeping around many waits is not CPU work ------------------------------

FRAME = struct.Struct("!BI")


def send_frame(sock, kind, payload):  # kind: io
    sock.sendall(FRAME.pack(kind, len(payload)) + payload)


def broadcast(sockets, messages):  # kind: io
    # the one header packed per frame is bookkeeping of a function that waits on the socket
    for sock in sockets:
        for kind, payload in messages:
            send_frame(sock, kind, payload)


# --- lookups nested over the object's own state: a few tasks, each with a few resources ----------

class Scheduler:
    def __init__(self):
        self.running = []
        self.limits = {}

    def resource_usage(self):  # kind: unknown
        used = {}
        for task in self.running:
            for name, amount in task.resources.items():
                if name in self.limits and amount:
                    used[name] = used.get(name, 0) + amount
        return used
