"""A shop's order store over any DB-API 2.0 connection (sqlite3, psycopg, pymysql): the connection
is handed in untyped, so the methods used on it are all that says what it is."""
from concurrent.futures import ThreadPoolExecutor


class OrderRepository:
    def __init__(self, conn):
        self._conn = conn

    def add(self, order):
        self._conn.execute(
            "INSERT INTO orders (id, customer, amount) VALUES (?, ?, ?)",
            (order["id"], order["customer"], order["amount"]),
        )

    def flush(self):
        self._conn.commit()


def export_month(conn, month, out):
    cur = conn.cursor()
    cur.execute("SELECT id, amount FROM orders WHERE month = ?", (month,))
    for order_id, amount in cur:
        out.append(f"{order_id},{amount:.2f}")
    return out


def drain(jobs, repo):
    """The writer thread: orders arrive on a queue until None."""
    while True:
        order = jobs.get()
        if order is None:
            break
        repo.add(order)
        jobs.task_done()


def export_all(conn, months):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda m: export_month(conn, m, []), months))
