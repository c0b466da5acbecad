"""A JupyterLab server started the way `course lab` starts it, on a free port with a known
token, for tests that talk to it over HTTP or drive it in a browser."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import course_cmd

from autograder import samples

TOKEN = "course-lab-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, argv, env, cwd):
        self.port = free_port()
        argv = [
            *argv,
            "--no-browser",
            f"--ServerApp.port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
        ]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        self.close()
        raise AssertionError(f"JupyterLab did not start: {self.proc.stderr.read()[-2000:]}")

    def request(self, path, method="GET", body=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read().decode()

    def get(self, path):
        return self.request(path)

    def status(self, path) -> int:
        try:
            self.get(path)
            return 200
        except urllib.error.HTTPError as exc:
            return exc.code

    def url(self, path: str) -> str:
        """A browser address on this server, logged in by the token."""
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={TOKEN}"

    def close(self):
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=30)


def page_config(html: str) -> dict:
    start = html.index('id="jupyter-config-data"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def graded_tiny_class(tiny_root, tmp_path):
    """The tiny course released and three sample students graded; returns the workspace."""
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    subs, workspace = samples.write_samples("00-tiny", tmp_path / "subs"), tmp_path / "ws"
    done = course_cmd("grade", "00", "--submissions", str(subs), "--workspace", str(workspace), cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    return workspace
