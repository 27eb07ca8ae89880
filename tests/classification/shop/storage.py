"""Disk, database and processes."""
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path


def read_orders(path):  # kind: io
    with open(path) as f:
        return f.readlines()


def write_report(path, text):  # kind: io
    Path(path).write_text(text)


def list_exports(folder):  # kind: io
    return sorted(os.listdir(folder))


def archive(src, dst):  # kind: io
    shutil.copy2(src, dst)


def count_orders(db):  # kind: io
    conn = sqlite3.connect(db)
    cur = conn.execute("select count(*) from orders")
    return cur.fetchone()[0]


def insert_orders(db, rows):  # kind: io
    conn = sqlite3.connect(db)
    for row in rows:
        conn.execute("insert into orders values (?, ?)", row)
    conn.commit()


def git_revision():  # kind: io
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout


def wait_for_lock(path):  # kind: io
    while os.path.exists(path):
        time.sleep(0.1)


def ask_user():  # kind: io
    return input("continue? ")


def load_config(path):  # kind: io
    # a delegating function is what it calls
    return read_orders(path)


def tail(path, n):  # kind: io
    lines = read_orders(path)
    return lines[-n:]
