"""Test set-up: a real Tally process per test, on a free loopback port with its own database.

The binary is ``TALLY_BIN`` or the repository's ``target/debug/tally``
(``scripts/test.sh`` builds it before these tests run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
MASTER_KEY = "py-client-master-key-0123456789abcdef"
INGEST_KEY = "py-client-ingest-key-0123456789abcdef"


def tally_binary() -> Path:
    binary = Path(os.environ.get("TALLY_BIN") or REPO / "target/debug/tally")
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build --bins` (scripts/test.sh does) or set TALLY_BIN")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TallyServer:
    """One Tally process; :meth:`start` again after a stop reuses the port and the database."""

    binary: Path
    workdir: Path
    flags: Sequence[str] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "tally.log"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--sqlite-metrics-db-path",
                    str(self.workdir / "metrics.db"),
                    "--metrics-archive-dir",
                    str(self.workdir / "archive"),
                    "--assets-dir",
                    str(REPO / "dist"),
                    *self.flags,
                ],
                env={
                    **os.environ,
                    "MASTER_API_KEY": MASTER_KEY,
                    "INGEST_API_KEY": INGEST_KEY,
                    "TALLY_DEMO": "false",
                    "RUST_LOG": "info",
                },
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"tally exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tally did not answer /healthz:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self, how: signal.Signals = signal.SIGKILL) -> None:
        """Stops the process: SIGKILL gives it no chance to finish anything, SIGTERM a graceful one."""
        assert self.process is not None, "not running"
        self.process.send_signal(how)
        self.process.wait(timeout=30)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def admin(self, view: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}/api/v1/admin/metrics/{view}",
            params=params,
            headers={"x-api-key": MASTER_KEY},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def counts(self) -> tuple[int, int, int]:
        """Executions, requests and pool events Tally has counted today (rollups: what the views show)."""
        executions = self.admin("summary")["total_executions"]
        requests = self.admin("requests")["total_requests"]
        pool = self.admin("pool")
        return executions, requests, pool["hits"] + pool["cold_starts"] + pool["exhausted"]


@pytest.fixture
def start_tally(tmp_path: Path) -> Iterator[Callable[..., TallyServer]]:
    """Starts Tally with extra flags; every server started is killed at the end of the test."""
    servers: list[TallyServer] = []

    def start(*flags: str) -> TallyServer:
        server = TallyServer(tally_binary(), tmp_path / f"tally-{len(servers)}", flags)
        server.workdir.mkdir()
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        if server.process is not None:
            server.stop()


@pytest.fixture
def tally(start_tally: Callable[..., TallyServer]) -> TallyServer:
    """A Tally with the default configuration."""
    return start_tally()
