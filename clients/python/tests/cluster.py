"""Real chorusd sites for the tests: configuration, start, readiness, faults, clean stop.

Every daemon is started with ``--exit-with-parent`` (it leaves and exits when the test run
ends, however it ends), and :meth:`Site.stop` ends each process this module started, by PID.
Ports come from 46000-46999 only; Unix sockets live in the site's temporary directory.
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]
BIN_DIR = Path(os.environ.get("CHORUS_BIN_DIR") or (REPO / ".build" / "release"))
CHORUSD = BIN_DIR / "chorusd"

PORT_FIRST = 46000
PORT_LAST = 46999
#: Ports one daemon takes from its client port on: TCP client, UDP data (+1), UDP token (+2).
STEP = 10

#: Ring timeouts that make faults show quickly on one host (as the Swift tests' LocalCluster).
FAST_RING = """
[ring]
token_timeout_ms = 300
token_retransmit_ms = 20
join_timeout_ms = 20
consensus_timeout_ms = 200
idle_hold_ms = 60
merge_probe_ms = 300
merge_backoff_ms = 300
max_gather_ms = 1000
"""

_started: Dict[int, subprocess.Popen] = {}
_probes = itertools.count(1)


def chorusd_available() -> bool:
    return CHORUSD.is_file() and os.access(CHORUSD, os.X_OK)


def skip_reason() -> str:
    return (
        f"chorusd not found at {CHORUSD}: build the daemons (swift build -c release) "
        "or point CHORUS_BIN_DIR at the directory that holds chorusd"
    )


def require_chorusd() -> None:
    """Skips the calling test module when there is no chorusd to run."""
    if not chorusd_available():
        import pytest

        pytest.skip(skip_reason(), allow_module_level=True)


@atexit.register
def _kill_leftovers() -> None:
    """Last resort: a daemon still running when the interpreter exits is killed (by PID)."""
    for pid, process in list(_started.items()):
        if process.poll() is None:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
                process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        _started.pop(pid, None)


def _port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate_base(count: int) -> int:
    """A client port base whose ports for ``count`` daemons are all free, in 46000-46999."""
    span = STEP * count
    slots = list(range(PORT_FIRST, PORT_LAST - span + 1, span))
    random.shuffle(slots)
    for base in slots:
        ok = True
        for index in range(count):
            client = base + index * STEP
            if not (
                _port_free(client, socket.SOCK_STREAM)
                and _port_free(client + 1, socket.SOCK_DGRAM)
                and _port_free(client + 2, socket.SOCK_DGRAM)
            ):
                ok = False
                break
        if ok:
            return base
    raise RuntimeError("no free ports for a chorus site in 46000-46999")


class Daemon:
    def __init__(self, name: str, client_port: int, unix_socket: str) -> None:
        self.name = name
        self.client_port = client_port
        self.ring_port = client_port + 1
        self.unix_socket = unix_socket
        self.process: Optional[subprocess.Popen] = None

    @property
    def tcp(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def unix(self) -> str:
        return self.unix_socket

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Site:
    """``count`` daemons d1..dN on 127.0.0.1 with one configuration file."""

    def __init__(self, directory: Path, count: int = 3, ring: str = FAST_RING, extra: str = "") -> None:
        self.directory = Path(directory)
        base = allocate_base(count)
        self.daemons: List[Daemon] = [
            Daemon(f"d{i + 1}", base + i * STEP, str(self.directory / f"d{i + 1}.sock")) for i in range(count)
        ]
        text = "# chorus-client tests\n"
        for daemon in self.daemons:
            text += (
                f'[[daemon]]\nname = "{daemon.name}"\naddress = "127.0.0.1"\nport = {daemon.ring_port}\n'
                f'client_port = {daemon.client_port}\nunix_socket = "{daemon.unix_socket}"\n\n'
            )
        text += ring + extra
        self.config = self.directory / "site.toml"
        self.config.write_text(text)

    def __getitem__(self, name: str) -> Daemon:
        for daemon in self.daemons:
            if daemon.name == name:
                return daemon
        raise KeyError(name)

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def launch(self, name: str) -> None:
        daemon = self[name]
        log = open(self.directory / f"{name}.log", "ab")
        command = [str(CHORUSD), "--config", str(self.config), "--name", name, "--log-level", "notice", "--exit-with-parent"]
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    daemon.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
                    break
                except OSError as error:
                    # ETXTBSY: a build in the same tree is writing the binary right now; it is
                    # done in a moment.
                    if error.errno != errno.ETXTBSY or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            log.close()
        _started[daemon.process.pid] = daemon.process

    def start(self, timeout: float = 20.0) -> None:
        """Starts every daemon and waits until each takes clients and the ring holds all of them."""
        try:
            for daemon in self.daemons:
                self.launch(daemon.name)
            deadline = time.monotonic() + timeout
            for daemon in self.daemons:
                self.wait_listening(daemon, deadline)
            self.wait_ring([d.name for d in self.daemons], deadline)
        except BaseException:
            self.stop()
            raise

    def wait_listening(self, daemon: Daemon, deadline: float) -> None:
        while True:
            if not daemon.running:
                raise RuntimeError(f"daemon {daemon.name} exited:\n{self.log(daemon.name)}")
            if _can_connect_tcp(daemon.client_port) and _can_connect_unix(daemon.unix_socket):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon {daemon.name} did not listen in time:\n{self.log(daemon.name)}")
            time.sleep(0.05)

    def wait_ring(self, names: List[str], deadline: float) -> None:
        """Waits until every named daemon reports a regular ring of exactly these daemons."""
        import chorus.blocking

        want = sorted(names)
        for name in names:
            while True:
                ring: Dict[str, Any] = {}
                try:
                    with chorus.blocking.connect(self[name].unix, name=f"probe-{next(_probes)}", membership=False, timeout=2) as probe:
                        ring = probe.status(timeout=2).get("ring", {})
                except (OSError, TimeoutError, chorus.ChorusError):
                    pass
                if ring.get("kind") == "regular" and sorted(ring.get("members", [])) == want:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the ring did not form as {want} at {name} in time (last: {ring})")
                time.sleep(0.05)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` to one daemon; for SIGKILL, waits until it is gone."""
        daemon = self[name]
        assert daemon.process is not None
        os.kill(daemon.process.pid, sig)
        if sig == signal.SIGKILL:
            daemon.process.wait(10)
            _started.pop(daemon.process.pid, None)

    def stop(self) -> None:
        """Ends every daemon this site started (SIGCONT then SIGKILL, by PID) and waits for each."""
        for daemon in self.daemons:
            process = daemon.process
            if process is None:
                continue
            if process.poll() is None:
                try:
                    os.kill(process.pid, signal.SIGCONT)
                    os.kill(process.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    pass
            _started.pop(process.pid, None)
        for daemon in self.daemons:
            try:
                os.unlink(daemon.unix_socket)
            except OSError:
                pass


def _can_connect_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _can_connect_unix(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(path)
            return True
        except OSError:
            return False
