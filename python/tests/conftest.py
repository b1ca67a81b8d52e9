"""Shared fixtures: the simfluence binary, the repository, and no network for transformers."""

import os
import subprocess
import sys

import pytest

# Nothing may be downloaded: tiny models are built from configs in the tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGE_SRC = os.path.join(REPO, "python", "src")


def binary_path():
    """$SIMFLUENCE_BIN, else <repo>/.build/release/simfluence; None when neither exists."""
    given = os.environ.get("SIMFLUENCE_BIN")
    if given:
        return given if os.path.isfile(given) else None
    default = os.path.join(REPO, ".build", "release", "simfluence")
    return default if os.path.isfile(default) else None


@pytest.fixture(scope="session")
def simfluence_bin():
    path = binary_path()
    if path is None:
        where = os.environ.get("SIMFLUENCE_BIN") or os.path.join(REPO, ".build", "release", "simfluence")
        pytest.skip("no simfluence binary at %s: build it with 'swift build -c release --product simfluence' "
                    "or set SIMFLUENCE_BIN" % where)
    return path


@pytest.fixture(scope="session")
def cli(simfluence_bin):
    """cli(*args) runs the binary (quietly) and returns its standard output; fails the test,
    showing standard error, when it exits non-zero."""
    def run(*args, expect_failure=False):
        argv = [simfluence_bin] + [str(a) for a in args]
        done = subprocess.run(argv, capture_output=True, text=True)
        if expect_failure:
            assert done.returncode != 0, "expected %s to fail; it printed:\n%s" % (" ".join(argv), done.stdout)
            return done.stderr
        assert done.returncode == 0, "%s failed (%d):\n%s" % (" ".join(argv), done.returncode, done.stderr)
        return done.stdout
    return run


@pytest.fixture(scope="session")
def repo():
    return REPO


def run_python(script, *args, cwd=None, timeout=600):
    """Runs a Python file with the package importable from the source tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, script] + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)
