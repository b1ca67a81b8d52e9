"""Finding and running the ``simfluence`` command-line tool from Python."""

import os
import shutil
import subprocess

__all__ = ["find_binary", "run", "SimfluenceError"]


class SimfluenceError(RuntimeError):
    """The CLI exited non-zero; ``returncode``, ``stderr`` and ``args`` say how."""

    def __init__(self, args, returncode, stderr):
        self.args_run, self.returncode, self.stderr = list(args), returncode, stderr
        super().__init__("%s exited with status %d:\n%s" % (" ".join(map(str, args)), returncode, stderr.strip()))


def find_binary(binary=None):
    """The path of the ``simfluence`` binary: ``binary`` if given, else the environment variable
    ``SIMFLUENCE_BIN``, else ``simfluence`` on the PATH. Raises FileNotFoundError otherwise."""
    for candidate in (binary, os.environ.get("SIMFLUENCE_BIN")):
        if candidate:
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return os.fspath(candidate)
            raise FileNotFoundError("no simfluence binary at %s" % candidate)
    found = shutil.which("simfluence")
    if found is None:
        raise FileNotFoundError("the simfluence binary was not found: put it on the PATH or set SIMFLUENCE_BIN "
                                "(build it with: swift build -c release --product simfluence)")
    return found


def run(*args, binary=None, check=True, cwd=None):
    """Runs ``simfluence ARGS...`` (progress lines on standard error are kept in the result) and
    returns its standard output as text; raises :class:`SimfluenceError` when it fails."""
    argv = [find_binary(binary)] + [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if check and done.returncode != 0:
        raise SimfluenceError(argv, done.returncode, done.stderr)
    return done.stdout
