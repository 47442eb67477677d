"""Real servers on loopback for the template's tests: PostgreSQL and an S3-compatible store.

The same shape a team runs MLflow and DVC against: a PostgreSQL database (Debian's
postgresql, initialised in a temporary folder) and an object store speaking the S3 API
(moto's standalone server; MinIO or S3 itself take the same settings). Each is started by the
test that needs it and stopped after it; nothing is left on the machine.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.2)
    said = log.read_text() if log.exists() else "(no log written)"
    raise AssertionError(f"{what} did not listen on port {port} in {seconds} s:\n{said}")


def postgres_program(name: str) -> str:
    """A PostgreSQL server program: on PATH, or where Debian's postgresql package puts it."""
    installed = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    newest = sorted(installed, key=lambda path: _version(Path(path).parts[-3]), reverse=True)
    found = shutil.which(name) or next(iter(newest), None)
    if found is None:
        raise AssertionError(
            f"PostgreSQL's {name} is not installed: `apt-get install postgresql` (.ci/run does)"
        )
    return found


def _version(text: str) -> tuple[int, ...]:
    """ "9.6" -> (9, 6), "16" -> (16,): Debian's folder names, compared as numbers."""
    return tuple(int(part) for part in text.split(".") if part.isdigit())


@dataclass
class Postgres:
    """A running PostgreSQL server with one database, `mlflow`, owned by user `mlflow`."""

    port: int
    password: str
    folder: Path

    @property
    def uri(self) -> str:
        return f"postgresql://mlflow:{self.password}@{LOOPBACK}:{self.port}/mlflow"

    def query(self, sql: str) -> list[list[str]]:
        """Rows of a query, each a list of its columns as text."""
        done = subprocess.run(
            [postgres_program("psql"), "-h", LOOPBACK, "-p", str(self.port), "-U", "mlflow"]
            + ["-d", "mlflow", "-At", "-F", "\t", "-c", sql],
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return [line.split("\t") for line in done.stdout.splitlines()]


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` (or `nobody`) user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", _server_user(), "--", *command]


def _server_user() -> str:
    """Debian's postgresql package creates the `postgres` user; elsewhere, `nobody`."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "nobody"
    return "postgres"


@contextmanager
def postgres() -> Iterator[Postgres]:
    """Initialise a database cluster in a temporary folder, start it on loopback, stop it after."""
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # an unprivileged user who must reach its own folder.
    folder = Path(tempfile.mkdtemp(prefix="template-postgres-"))
    server = Postgres(port=free_port(), password="mlflow-test-password", folder=folder)
    data, log, password_file = folder / "data", folder / "server.log", folder / "password"
    try:
        password_file.write_text(server.password)
        if os.geteuid() == 0:
            shutil.chown(folder, user=_server_user())
            shutil.chown(password_file, user=_server_user())
        initdb = [postgres_program("initdb"), "-D", str(data), "-U", "mlflow", "--pwfile"]
        initdb += [str(password_file), "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync"]
        subprocess.run(_as_server_user(initdb), capture_output=True, check=True, timeout=120)
        options = f"-c listen_addresses={LOOPBACK} -p {server.port} -k {folder} -c fsync=off"
        start = [postgres_program("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options]
        subprocess.run(_as_server_user([*start, "-w", "start"]), capture_output=True, timeout=120)
        wait_for_port(server.port, "PostgreSQL", log)
        createdb = [postgres_program("createdb"), "-h", LOOPBACK, "-p", str(server.port)]
        subprocess.run(
            [*createdb, "-U", "mlflow", "mlflow"],
            env={**os.environ, "PGPASSWORD": server.password},
            check=True,
            timeout=30,
        )
        yield server
    finally:
        if data.exists():
            stop = [postgres_program("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
            subprocess.run(_as_server_user(stop), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class ObjectStore:
    """A running S3-compatible server: its endpoint and the credentials it accepts."""

    endpoint: str
    environment: dict[str, str]

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **self._credentials())

    def _credentials(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.environment["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.environment["AWS_SECRET_ACCESS_KEY"],
            "region_name": self.environment["AWS_DEFAULT_REGION"],
        }

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listing = self.client().get_paginator("list_objects_v2")
        pages = listing.paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextmanager
def object_store(folder: Path) -> Iterator[ObjectStore]:
    """moto's standalone S3 server on loopback (state in memory, gone when it stops)."""
    port = free_port()
    log = folder / "moto.log"
    program = Path(sys.executable).with_name("moto_server")
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(program), "-H", LOOPBACK, "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, "moto's S3 server", log)
        endpoint = f"http://{LOOPBACK}:{port}"
        urllib.request.urlopen(endpoint, timeout=10).close()
        yield ObjectStore(
            endpoint=endpoint,
            environment={
                "AWS_ACCESS_KEY_ID": "template-test-key",
                "AWS_SECRET_ACCESS_KEY": "template-test-secret",
                "AWS_DEFAULT_REGION": "us-east-1",
                # botocore (boto3 for MLflow, aiobotocore for DVC) reads the endpoint from here.
                "AWS_ENDPOINT_URL": endpoint,
            },
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
