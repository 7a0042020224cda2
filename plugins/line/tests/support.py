"""Shared test helpers: the plugin on sys.path, a fake host, fixture paths,
and (for the contract tests) bindings generated into a temporary directory."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

PLUGIN = Path(__file__).resolve().parent.parent
REPO = PLUGIN.parent.parent
FIXTURES = PLUGIN / "fixtures"
CONFORMANCE = FIXTURES / "conformance"
WIT = REPO / "plugin-sdk" / "wit"

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))

from omni_line.model import Answer, TransportError  # noqa: E402


def sample():
    """`[config]` and `[secrets]` of the conformance sample (TOML, read by hand:
    tomllib is 3.11+, and the file is two flat tables of strings)."""
    tables = {"config": {}, "secrets": {}}
    current = None
    for line in (CONFORMANCE / "config.toml").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = tables[line.strip("[]")]
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = json.loads(value.strip())
    return tables


class FakeHost:
    """A `model.Host` with config, secrets, a log, and scripted HTTP answers."""

    def __init__(self, config=None, secrets=None, answers: Optional[List] = None):
        self.config_values = dict(config or {})
        self.secrets = dict(secrets or {})
        self.answers = list(answers or [])
        self.requests = []
        self.logs = []

    @classmethod
    def from_sample(cls, answers=None):
        tables = sample()
        return cls(tables["config"], tables["secrets"], answers)

    def config(self, key):
        if key not in self.config_values:
            return None
        return json.dumps(self.config_values[key])

    def secret(self, name):
        return self.secrets.get(name)

    def log(self, level, message):
        self.logs.append((level, message))

    def http(self, method, url, headers, body):
        self.requests.append({"method": method, "url": url, "headers": dict(headers), "body": body})
        if not self.answers:
            return Answer(503, [], b"")
        answer = self.answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        return answer


def find_componentize_py() -> Optional[str]:
    """componentize-py as build.sh finds it, without installing anything."""
    explicit = os.environ.get("COMPONENTIZE_PY")
    if explicit:
        return explicit
    on_path = shutil.which("componentize-py")
    if on_path:
        return on_path
    tools = Path(os.environ.get("OMNI_TOOLS_DIR") or REPO / "target" / "tools")
    venv = tools / "py" / "bin" / "componentize-py"
    return str(venv) if venv.exists() else None


_bindings_dir: Optional[str] = None


def bindings() -> Optional[str]:
    """A directory with `wit_world` generated from the contract, once per run,
    put on sys.path; None when componentize-py cannot be found."""
    global _bindings_dir
    if _bindings_dir is not None:
        return _bindings_dir
    tool = find_componentize_py()
    if tool is None:
        return None
    out = tempfile.mkdtemp(prefix="omni-line-bindings-")
    subprocess.run(
        [tool, "-d", str(WIT), "-w", "channel", "bindings", out],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    import atexit

    atexit.register(shutil.rmtree, out, True)
    sys.path.insert(0, out)
    _bindings_dir = out
    return out
