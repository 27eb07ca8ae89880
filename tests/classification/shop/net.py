"""Network clients."""
import http.client
import smtplib
import socket
import urllib.request

import boto3
import httpx
import requests
from requests import Session as HttpSession


def fetch_json(url):  # kind: io
    return requests.get(url, timeout=5).json()


def post_order(url, order):  # kind: io
    resp = requests.post(url, json=order, timeout=5)
    resp.raise_for_status()
    return resp.status_code


def read_page(url):  # kind: io
    with urllib.request.urlopen(url) as resp:
        return resp.read()


def ping(host, port):  # kind: io
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


def head_status(host):  # kind: io
    conn = http.client.HTTPSConnection(host)
    conn.request("HEAD", "/")
    return conn.getresponse().status


def upload_receipt(bucket, key, body):  # kind: io
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def send_mail(to, body):  # kind: io
    with smtplib.SMTP("localhost") as smtp:
        smtp.sendmail("shop@example.com", [to], body)


def fetch_with_httpx(url):  # kind: io
    with httpx.Client() as client:
        return client.get(url).text


class Catalog:
    def __init__(self, base):
        self.base = base
        self.session = HttpSession()
        self.prices = {}

    def product(self, sku):  # kind: io
        return self.session.get(f"{self.base}/products/{sku}").json()

    def price(self, sku):  # kind: io
        cached = self.prices.get(sku)
        if cached is None:
            cached = self.product(sku)["price"]
            self.prices[sku] = cached
        return cached

    def cached_price(self, sku):  # kind: unknown
        # dict.get is not HTTP
        return self.prices.get(sku, 0.0)

    def all_prices(self, skus):  # kind: io
        return {sku: self.price(sku) for sku in skus}


async def fetch_async(client: httpx.AsyncClient, url):  # kind: io
    resp = await client.get(url)
    return resp.json()
