"""The API does what its OpenAPI schema says: Schemathesis's own command line, every phase and every check, against
a live `mentoring serve` process on the suite's database (SQLite or PostgreSQL), as a mentor with an API token.

Unlike test_api_fuzz (in-process, a manager's token, a few calls per operation) this runs the stateful phase too,
which chains calls through the schema's links, and checks answers that only a real server gives: OPTIONS and
Allow headers, content types, what a refused token gets.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mentoring.access import apitokens
from mentoring.people.models import Organization

from .browser import _free_port
from .conftest import actor_for

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).parent / "contract" / "schemathesis.toml"
EXAMPLES = 10  # per operation and phase: the whole run stays under about two minutes


def _start_server(database_url: str, data_dir: Path, port: int, log) -> subprocess.Popen:
    # PYTHONPATH: the server runs this checkout's code, like the tests themselves.
    env = {**os.environ, "MENTORING_DATABASE_URL": database_url, "MENTORING_DATA_DIR": str(data_dir),
           "MENTORING_SECRET_KEY": "contract-test-" + "x" * 40, "PYTHONPATH": str(ROOT)}
    # The log goes to a file: a pipe nobody reads would fill up and stall the server.
    return subprocess.Popen([str(BIN / "mentoring"), "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait_until_up(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 180  # a loaded CI machine migrates and loads the catalog slowly
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError("mentoring serve stopped; see its log above")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("mentoring serve did not answer within 180 s")


def test_schemathesis_finds_no_mismatch_between_schema_and_live_server(clean_db, database_url, world, assigned,
                                                                       tmp_path):
    admin = actor_for(clean_db, world.admin)
    with clean_db.transaction() as db:
        _, token = apitokens.create_token(db, admin, db.get(Organization, world.shop.id), world.mentor.id, "contract")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = _start_server(database_url, tmp_path, port, log)
    try:
        _wait_until_up(server, url)
        version = subprocess.run([str(BIN / "schemathesis"), "--version"], capture_output=True, text=True)
        print(version.stdout.strip())
        run = subprocess.run(
            [str(BIN / "schemathesis"), "--config-file", str(CONFIG), "run", f"{url}/api/schema/openapi.json",
             "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
             "--header", f"Authorization: Bearer {token}", "--max-examples", str(EXAMPLES), "--seed", "1",
             "--workers", "1", "--no-color", "--generation-database", "none",
             "--report-dir", str(tmp_path / "report")],
            cwd=CONFIG.parent, capture_output=True, text=True, timeout=600)
        print(run.stdout[-6000:], run.stderr[-2000:])
        assert run.returncode == 0, run.stdout[-20000:]
    finally:
        print(log_path.read_text()[-3000:])
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
