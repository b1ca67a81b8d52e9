"""Writing training logs in simfluence's native layout (Docs/NativeLayout.md).

    ROOT/simfluence-log.json          the header, written last (when the writer closes)
    ROOT/runs/<run>/curriculum.jsonl  {"step": t, "batch": [ids]} per line, t = 1..T
    ROOT/runs/<run>/losses.npy        (T + 1, len(test_ids)) float64; row 0 before training

Every file appears complete or not at all: a run is written into a hidden folder
``runs/.<run>.partial`` (the CLI ignores hidden folders) that is renamed to ``runs/<run>`` when
the run closes, and the header is written (to a temporary name, then renamed) when the log
closes. A script that crashes leaves no header, so the CLI reports the log as unfinished instead
of reading it; a crash while appending to a finished log leaves that log as it was.
"""

import json
import math
import os
import re
import shutil

from . import _npy
from ._values import first_duplicate, id_key, id_list, loss_row

HEADER = "simfluence-log.json"
CURRICULUM = "curriculum.jsonl"
LOSSES = "losses.npy"
FORMAT = "simfluence-log"
VERSION = 1

_IF_EXISTS = ("error", "append", "overwrite")



class _ClosesOnExit:
    """A context manager that calls ``close()`` when its block ends normally and ``abort()``
    when the block raises (so a failed script never leaves a log that looks complete)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class LogWriter(_ClosesOnExit):
    """Writes one log in the native layout: runs with :meth:`run`, the header on :meth:`close`.

    ``test_ids``: the test examples, in the order of every loss row (integers or strings, no
    repeats). ``train_ids``: optional training-example vocabulary; when given, every batch id
    must be in it, and it is the order ``simfluence export`` uses. ``metadata``: free-form
    provenance (a dict; values other than strings are kept as JSON text).

    ``loss_every=k`` (k > 1): losses are recorded only after steps that are multiples of k and
    after each run's last step; call ``step(batch_ids)`` without losses on the others. Their rows
    of ``losses.npy`` are NaN and the header's metadata says ``"loss_every": "k"``; the CLI reads
    such rows as the linear interpolation of the recorded rows around them.

    ``if_exists``: what to do when ``root`` already holds a log: ``"error"`` (default),
    ``"append"`` (add runs to it; its test ids must match, its header is rewritten on close) or
    ``"overwrite"`` (delete its header and its ``runs/`` folder first).

    Use it as a context manager: the header is written when the ``with`` block ends normally,
    and never when it ends with an exception (open runs are then discarded).
    """

    def __init__(self, root, test_ids, train_ids=None, metadata=None, *, loss_every=1,
                 if_exists="error", dtype="float64"):
        self.root = os.fspath(root)
        self.test_ids = id_list(test_ids, "test_ids")
        if not self.test_ids:
            raise ValueError("test_ids is empty: a log needs at least one test example")
        dup = first_duplicate(self.test_ids)
        if dup is not None:
            raise ValueError("test id %r appears twice in test_ids" % (dup,))
        self.train_ids = None
        self._train_keys = None
        if train_ids is not None:
            self._set_train_ids(id_list(train_ids, "train_ids"))
        self.metadata = dict(metadata or {})
        for key in self.metadata:
            if not isinstance(key, str):
                raise TypeError("metadata keys must be strings, found %r" % (key,))
        try:
            json.dumps(self.metadata, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError("metadata must be JSON-serialisable (strings, numbers, lists, dicts): %s" % e) from None
        if isinstance(loss_every, bool) or not isinstance(loss_every, int) or loss_every < 1:
            raise ValueError("loss_every must be a whole number >= 1, found %r" % (loss_every,))
        self.loss_every = loss_every
        given = self.metadata.get("loss_every")
        if given is not None and str(given) != str(loss_every):
            raise ValueError("metadata says loss_every=%r but loss_every=%r was passed: pass loss_every only"
                             % (given, loss_every))
        self.metadata.pop("loss_every", None)
        if if_exists not in _IF_EXISTS:
            raise ValueError("if_exists must be one of %s, found %r" % (", ".join(_IF_EXISTS), if_exists))
        self.dtype = _npy.check_dtype(dtype)
        self._open_runs = {}
        self._names = set()
        self.run_names = []               # runs written by this writer, in order
        self._closed = False
        self._prepare(if_exists)

    # -- the folder --------------------------------------------------------------------------

    def _set_train_ids(self, ids):
        dup = first_duplicate(ids)
        if dup is not None:
            raise ValueError("training id %r appears twice in train_ids" % (dup,))
        self.train_ids = ids
        self._train_keys = {id_key(i) for i in ids}

    @property
    def runs_dir(self):
        return os.path.join(self.root, "runs")

    def _existing_runs(self):
        if not os.path.isdir(self.runs_dir):
            return []
        return sorted(n for n in os.listdir(self.runs_dir)
                      if not n.startswith(".") and os.path.isdir(os.path.join(self.runs_dir, n)))

    def _prepare(self, if_exists):
        header_path = os.path.join(self.root, HEADER)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise NotADirectoryError("%s exists and is not a folder" % self.root)
        existing = self._existing_runs()
        has_header = os.path.exists(header_path)
        if if_exists == "error" and (has_header or existing):
            what = HEADER if has_header else "runs/" + existing[0]
            raise FileExistsError("%s already holds a log (%s): write to a new folder, or pass "
                                  "if_exists='append' to add runs or 'overwrite' to replace it" % (self.root, what))
        if if_exists == "overwrite":
            if has_header:
                os.remove(header_path)
            if os.path.isdir(self.runs_dir):
                shutil.rmtree(self.runs_dir)
            existing = []
        elif if_exists == "append":
            self._adopt(header_path if has_header else None, existing)
        os.makedirs(self.runs_dir, exist_ok=True)
        self._names.update(existing)

    def _adopt(self, header_path, existing):
        """Checks an existing log against this writer before runs are added to it."""
        for name in existing:
            folder = os.path.join(self.runs_dir, name)
            missing = [f for f in (CURRICULUM, LOSSES) if not os.path.isfile(os.path.join(folder, f))]
            if missing:
                raise ValueError("%s has no %s: it is not a complete run; delete or complete it before appending "
                                 "to this log" % (folder, " or ".join(missing)))
        if header_path is None:
            return
        with open(header_path, encoding="utf-8") as f:
            old = json.load(f)
        if [id_key(i) for i in old.get("test_ids", [])] != [id_key(i) for i in self.test_ids]:
            raise ValueError("%s records other test ids (or another order) than test_ids: a log has one "
                             "set of test examples" % header_path)
        if old.get("first_loss_step", 0) != 0:
            raise ValueError("%s has first_loss_step %r; this writer records losses before training "
                             "(first_loss_step 0)" % (header_path, old.get("first_loss_step")))
        old_meta = old.get("metadata") or {}
        if str(old_meta.get("loss_every", 1)) != str(self.loss_every):
            raise ValueError("%s records losses every %s steps, this writer every %d (loss_every)"
                             % (header_path, old_meta.get("loss_every", 1), self.loss_every))
        old_train = old.get("train_ids")
        if old_train is not None:
            if self.train_ids is None:
                self._set_train_ids(id_list(old_train, "train_ids of " + header_path))
            elif [id_key(i) for i in old_train] != [id_key(i) for i in self.train_ids]:
                raise ValueError("%s lists other train_ids than this writer" % header_path)
        merged = {k: v for k, v in old_meta.items() if k != "loss_every"}
        merged.update(self.metadata)
        self.metadata = merged

    # -- runs --------------------------------------------------------------------------------

    def run(self, name=None, initial_losses=None, *, steps=None):
        """Opens a run and returns its :class:`RunWriter`.

        ``name``: the run's folder name (default: ``run1``, ``run2``, ... the first free one).
        ``initial_losses``: every test example's loss before the first update, in ``test_ids``
        order (a sequence, NumPy array or tensor). ``steps``: if given, the run must have exactly
        this many steps (a check).
        """
        self._check_open()
        if name is None:
            k = 1
            while "run%d" % k in self._names:
                k += 1
            name = "run%d" % k
        if not isinstance(name, str) or not _valid_name(name):
            raise ValueError("run name %r: expected a non-empty folder name without '/' that does not start "
                             "with '.'" % (name,))
        if name in self._names:
            raise ValueError("run %r already exists in %s" % (name, self.root))
        if initial_losses is None:
            raise TypeError("run %r: initial_losses is required (every test example's loss before training)" % name)
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError("run %r: steps must be a whole number >= 1, found %r" % (name, steps))
        initial = loss_row(initial_losses, self.test_ids, "run %r: initial_losses" % name)
        run = RunWriter(self, name, initial, steps)
        self._names.add(name)
        self._open_runs[name] = run
        return run

    def _run_closed(self, run, completed):
        self._open_runs.pop(run.name, None)
        if completed:
            self.run_names.append(run.name)
        else:
            self._names.discard(run.name)

    def _check_open(self):
        if self._closed:
            raise RuntimeError("the log writer for %s is closed" % self.root)

    # -- closing -----------------------------------------------------------------------------

    def header(self):
        """The header as a dict (what :meth:`close` writes)."""
        metadata = dict(self.metadata)
        if self.loss_every > 1:
            metadata["loss_every"] = str(self.loss_every)
        out = {"format": FORMAT, "version": VERSION, "first_loss_step": 0, "test_ids": list(self.test_ids)}
        if self.train_ids is not None:
            out["train_ids"] = list(self.train_ids)
        out["metadata"] = metadata
        return out

    def close(self):
        """Writes the header: the log is complete. Every run must be closed first."""
        if self._closed:
            return
        if self._open_runs:
            raise RuntimeError("run %r is still open: close it (or use 'with writer.run(...)') before closing "
                               "the log" % next(iter(self._open_runs)))
        if not self._existing_runs():
            raise ValueError("no runs were written to %s: a log needs at least one" % self.root)
        text = json.dumps(self.header(), indent=1, allow_nan=False)
        _write_text_atomically(os.path.join(self.root, HEADER), text + "\n")
        self._closed = True

    def abort(self):
        """Discards the open runs and closes without writing the header."""
        for run in list(self._open_runs.values()):
            run.abort()
        self._closed = True

    def __repr__(self):
        return "LogWriter(%r, %d test examples, %d runs)" % (self.root, len(self.test_ids), len(self.run_names))


class RunWriter(_ClosesOnExit):
    """One run of a log: call :meth:`step` after every update, then :meth:`close`.

    A context manager: the run is closed when the ``with`` block ends normally and discarded
    (its partial files deleted) when it ends with an exception.
    """

    def __init__(self, log, name, initial_losses, steps):
        self.log = log
        self.name = name
        self.directory = os.path.join(log.runs_dir, name)
        self.expected_steps = steps
        self.steps = 0                   # steps logged so far
        self._last_recorded = 0          # the last step whose losses were given
        self._closed = False
        self._staging = os.path.join(log.runs_dir, ".%s.partial" % name)
        if os.path.isdir(self._staging):     # left by an interrupted script
            shutil.rmtree(self._staging)
        os.makedirs(self._staging)
        self._curriculum = open(os.path.join(self._staging, CURRICULUM), "w", encoding="utf-8")
        self._losses = _npy.RowWriter(os.path.join(self._staging, LOSSES), len(log.test_ids), log.dtype)
        self._losses.append(initial_losses)
        self._nan_row = [math.nan] * len(log.test_ids)

    def step(self, batch_ids, losses=None, *, step=None):
        """Logs one update: the ids of the examples it trained on (repeats count once each) and,
        after it, every test example's loss in ``test_ids`` order (or None on steps a
        ``loss_every`` log does not record). ``step``: the step number, checked if given.

        Raises at once (before anything is written) when the batch, the losses or the step
        number are wrong, so the run can go on with a corrected call.
        """
        if self._closed:
            raise RuntimeError("run %r is closed" % self.name)
        t = self.steps + 1
        where = "run %r, step %d" % (self.name, t)
        if step is not None and step != t:
            raise ValueError("run %r: step=%r was given, but this is step %d of the run (a step was skipped or "
                             "logged twice)" % (self.name, step, t))
        if self.expected_steps is not None and t > self.expected_steps:
            raise ValueError("%s: the run was declared with steps=%d" % (where, self.expected_steps))
        k = self.log.loss_every
        if self._last_recorded == self.steps and self.steps % k != 0:
            raise ValueError("%s: step %d recorded losses although loss_every=%d; only steps that are multiples of "
                             "%d, and a run's last step, may record them" % (where, self.steps, k, k))
        batch = id_list(batch_ids, where + ": batch_ids")
        if not batch:
            raise ValueError("%s: the batch is empty" % where)
        keys = self.log._train_keys
        if keys is not None:
            for i in batch:
                if id_key(i) not in keys:
                    raise ValueError("%s: training example %r is not in train_ids" % (where, i))
        if losses is None:
            if k == 1:
                raise ValueError("%s: no losses; every step records them unless the log is written with "
                                 "LogWriter(..., loss_every=k)" % where)
            if t % k == 0:
                raise ValueError("%s: no losses, but with loss_every=%d step %d must record them" % (where, k, t))
            row = self._nan_row
        else:
            row = loss_row(losses, self.log.test_ids, where)
        self._curriculum.write(json.dumps({"step": t, "batch": batch}) + "\n")
        self._losses.append(row)
        self.steps = t
        if losses is not None:
            self._last_recorded = t

    def close(self):
        """Writes the run's files. Refuses (and discards the run) when it has no steps, fewer
        steps than declared, or, with ``loss_every``, no losses after its last step."""
        if self._closed:
            return
        problem = None
        if self.steps == 0:
            problem = "no steps were logged"
        elif self.expected_steps is not None and self.steps != self.expected_steps:
            problem = "%d steps were logged but the run was declared with steps=%d" % (self.steps, self.expected_steps)
        elif self._last_recorded != self.steps:
            problem = ("its last step (%d) recorded no losses; with loss_every=%d every run's last step must "
                       "record them" % (self.steps, self.log.loss_every))
        if problem:
            self.abort()
            raise ValueError("run %r: %s; the run was discarded" % (self.name, problem))
        self._curriculum.flush()
        os.fsync(self._curriculum.fileno())
        self._curriculum.close()
        self._losses.finish()
        os.rename(self._staging, self.directory)
        self._closed = True
        self.log._run_closed(self, completed=True)

    def abort(self):
        """Deletes the run's partial files."""
        if self._closed:
            return
        self._curriculum.close()
        self._losses.abort()
        shutil.rmtree(self._staging, ignore_errors=True)
        self._closed = True
        self.log._run_closed(self, completed=False)

    @property
    def closed(self):
        return self._closed

    def __repr__(self):
        return "RunWriter(%r, %d steps%s)" % (self.name, self.steps, ", closed" if self._closed else "")


def _valid_name(name):
    return bool(name) and not name.startswith(".") and re.search(r"[/\\\x00]", name) is None


def _write_text_atomically(path, text):
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
