"""nginx as the reference proxy (proxy_pass with keep-alive upstream connections) or as a static upstream."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bench import static_upstream as docs
from devtools.azurite import free_port

DEBIAN_PACKAGE = "nginx"
_KNOWN_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

# Shared by both configurations: one worker (the gateway is one worker process too), no access log, temp files
# inside our own folder, and long-lived keep-alive client connections.
_COMMON = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    tcp_nodelay on;
{server}
}}
"""

# Responses are buffered in memory and never spooled to disk (proxy_max_temp_file_size 0 streams what does not
# fit), so the 5 MB Bundle measures the proxy, not the file system.
_PROXY_SERVER = """\
    upstream fhir_upstream {{
        server {upstream_host}:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {host}:{port} backlog=1024;
        location / {{
            proxy_pass http://fhir_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 16k;
            proxy_buffers 16 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;
        }}
    }}"""

# The same route map as static_upstream.route(); a POST to a static file is a 405 that error_page turns into a
# GET of the file try_files chose, which is how the batch-response is served.
_STATIC_SERVER = """\
    server {{
        listen {host}:{port} backlog=1024;
        root {docs};
        types {{ }}
        default_type application/fhir+json;
        charset utf-8;
        charset_types application/fhir+json;
        etag off;
        error_page 405 =200 $uri;
        location = {base}/Patient {{ try_files /{search} =404; }}
        location ^~ {base}/Patient/ {{ try_files /{patient} =404; }}
        location = {base}/Observation {{ try_files /{bundle} =404; }}
        location = {base}/metadata {{ try_files /{metadata} =404; }}
        location = {base} {{ try_files /{batch} =404; }}
        location / {{ }}
    }}"""


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in _KNOWN_PATHS if os.access(path, os.X_OK)), None)


def ensure_nginx(say: Callable[[str], None] = print) -> str:
    """The nginx binary; installs the Debian package first when it is missing (and says so)."""
    found = find_nginx()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        sys.exit("nginx is not installed; install the Debian package as root: apt-get install -y nginx")
    say(f"nginx not found: installing the Debian package '{DEBIAN_PACKAGE}' with apt-get ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [apt, "install", "-y", "-q", "--no-install-recommends", DEBIAN_PACKAGE]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        say("apt-get install failed; refreshing the package lists (apt-get update) and retrying ...")
        subprocess.run([apt, "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    found = find_nginx()
    if found is None:
        sys.exit("apt-get installed nginx but no nginx binary was found")
    say(f"nginx installed: {found}")
    return found


def proxy_config(folder: Path, port: int, upstream_port: int, host: str = "127.0.0.1") -> str:
    server = _PROXY_SERVER.format(host=host, port=port, upstream_host=host, upstream_port=upstream_port)
    return _COMMON.format(dir=folder, server=server)


def static_config(
    folder: Path, port: int, documents: Path, base_path: str = docs.BASE_PATH, host: str = "127.0.0.1"
) -> str:
    server = _STATIC_SERVER.format(
        host=host,
        port=port,
        docs=documents,
        base=base_path,
        search=docs.SEARCH_FILE,
        patient=docs.PATIENT_FILE,
        bundle=docs.BUNDLE_FILE,
        batch=docs.BATCH_FILE,
        metadata=docs.METADATA_FILE,
    )
    return _COMMON.format(dir=folder, server=server)


class Nginx:
    """nginx as a non-daemon child process on a free loopback port, with its config in a temporary folder."""

    def __init__(
        self,
        binary: str,
        make_config: Callable[[Path, int], str],
        port: int | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self._make_config = make_config
        self._preexec = preexec
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Nginx:
        # Worker processes run as nobody: they must reach the folder and write their temp folders.
        self.folder.chmod(0o755)
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / name).mkdir(mode=0o777, exist_ok=True)
            (self.folder / name).chmod(0o777)
        config = self.folder / "nginx.conf"
        config.write_text(self._make_config(self.folder, self.port))
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.folder), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=self._preexec,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with status {self.process.returncode}: {self.error_log()}")
            if (self.folder / "nginx.pid").exists() and _listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on port {self.port} within {timeout:.0f} s")

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
