"""LogWriter: the files it writes, its refusals, and the CLI reading its logs."""

import json
import math
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from simfluence_log import LogWriter, results
from conftest import PACKAGE_SRC


def fake_log(root, runs=6, steps=10, tests=(100, 101, "t-2"), pool=8, batch=2, loss_every=1, **kwargs):
    """A log of `runs` runs whose losses follow a planted additive model, so fitting has signal."""
    effect = {i: -0.02 * (1 + i % 3) for i in range(pool)}
    with LogWriter(root, list(tests), loss_every=loss_every, **kwargs) as log:
        for r in range(runs):
            rng = random.Random(r)
            losses = [2.0 + 0.5 * j for j in range(len(tests))]
            with log.run("run%d" % (r + 1), losses) as run:
                for t in range(1, steps + 1):
                    ids = rng.sample(range(pool), batch)
                    losses = [l + sum(effect[i] for i in ids) * (1 + 0.2 * j) for j, l in enumerate(losses)]
                    recorded = loss_every == 1 or t % loss_every == 0 or t == steps
                    run.step(ids, losses if recorded else None)
    return log


def test_files_read_back_exactly(tmp_path):
    root = tmp_path / "log"
    with LogWriter(root, [7, "b"], train_ids=[1, 2, "x"], metadata={"lr": 0.1, "note": "hi"}) as log:
        with log.run("first", np.array([2.0, 3.0])) as run:
            run.step([1, 2], [1.5, 2.5])
            run.step(np.array([2, 2]), (1.25, 2.25), step=2)
            run.step(["x"], [1.0, 2.0])
        with log.run(None, [2.0, 3.0]) as run:
            run.step([np.int64(1)], [1.9, 2.9])
    header = json.loads((root / "simfluence-log.json").read_text())
    assert header == {"format": "simfluence-log", "version": 1, "first_loss_step": 0, "test_ids": [7, "b"],
                      "train_ids": [1, 2, "x"], "metadata": {"lr": 0.1, "note": "hi"}}
    assert sorted(os.listdir(root / "runs")) == ["first", "run1"]
    assert sorted(os.listdir(root / "runs" / "first")) == ["curriculum.jsonl", "losses.npy"]
    lines = (root / "runs" / "first" / "curriculum.jsonl").read_text().splitlines()
    assert [json.loads(l) for l in lines] == [{"step": 1, "batch": [1, 2]}, {"step": 2, "batch": [2, 2]},
                                              {"step": 3, "batch": ["x"]}]
    losses = np.load(root / "runs" / "first" / "losses.npy")
    assert losses.dtype == np.float64 and losses.shape == (4, 2)
    assert losses.tolist() == [[2.0, 3.0], [1.5, 2.5], [1.25, 2.25], [1.0, 2.0]]
    assert log.run_names == ["first", "run1"]


def test_float32_losses(tmp_path):
    with LogWriter(tmp_path, [1], dtype="float32") as log:
        with log.run("r", [0.1]) as run:
            run.step([5], [0.2])
    a = np.load(tmp_path / "runs" / "r" / "losses.npy")
    assert a.dtype == np.float32 and a.tolist() == [[np.float32(0.1)], [np.float32(0.2)]]


def test_cli_evaluates_a_log_written_by_the_package(tmp_path, cli):
    fake_log(tmp_path / "log", metadata={"trainer": "fake"})
    out = cli("evaluate", tmp_path / "log", "--holdout", 2, "--lambda", 0.01, "--json", "--quiet")
    scores = results.read_evaluation(out, as_frame=False)
    by_method = {r["method"]: r for r in scores}
    assert set(by_method) == {"linear", "persistence", "mean-run"}
    assert by_method["linear"]["trajectories"] == 2 * 3
    # The planted model is additive, so the simulator recovers it almost exactly.
    assert by_method["linear"]["all_steps_mse"] < 0.01 * by_method["persistence"]["all_steps_mse"]


def test_steps_are_checked_at_once_and_a_bad_call_changes_nothing(tmp_path):
    with LogWriter(tmp_path, [1, 2], train_ids=range(5)) as log:
        with log.run("r", [1.0, 2.0], steps=2) as run:
            bad_calls = [
                (lambda: run.step([1], [1.0]), ValueError, "1 losses for 2 test examples"),
                (lambda: run.step([1], [1.0, math.nan]), ValueError, "the loss of test example 2 is nan"),
                (lambda: run.step([1], [1.0, 1e31]), ValueError, "at most 1e30"),
                (lambda: run.step([1], [[1.0, 2.0]]), ValueError, "1 losses for 2 test examples"),
                (lambda: run.step([1], ["a", 2.0]), TypeError, "not a number"),
                (lambda: run.step([], [1.0, 2.0]), ValueError, "the batch is empty"),
                (lambda: run.step([1.5], [1.0, 2.0]), TypeError, "expected an integer or a string id, found 1.5"),
                (lambda: run.step([True], [1.0, 2.0]), TypeError, "found True"),
                (lambda: run.step([9], [1.0, 2.0]), ValueError, "training example 9 is not in train_ids"),
                (lambda: run.step([1], [1.0, 2.0], step=2), ValueError, "step=2 was given, but this is step 1"),
                (lambda: run.step([1], None), ValueError, "no losses; every step records them unless"),
                (lambda: run.step(3, [1.0, 2.0]), TypeError, "expected a sequence of ids"),
            ]
            for call, kind, message in bad_calls:
                with pytest.raises(kind, match=None) as e:
                    call()
                assert message in str(e.value), str(e.value)
            assert run.steps == 0
            run.step([1, "3"], [0.5, 1.5])
            run.step([4], [0.25, 1.25], step=2)
            with pytest.raises(ValueError, match="declared with steps=2"):
                run.step([4], [0.25, 1.25])
    assert np.load(tmp_path / "runs" / "r" / "losses.npy").shape == (3, 2)


def test_writer_refusals(tmp_path):
    with pytest.raises(ValueError, match="test id .3. appears twice"):
        LogWriter(tmp_path / "a", [3, "3"])
    with pytest.raises(ValueError, match="test_ids is empty"):
        LogWriter(tmp_path / "a", [])
    with pytest.raises(ValueError, match="training id 'x' appears twice"):
        LogWriter(tmp_path / "a", [1], train_ids=["x", "x"])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        LogWriter(tmp_path / "a", [1], metadata={"f": object()})
    log = LogWriter(tmp_path / "b", [1])
    with pytest.raises(TypeError, match="initial_losses is required"):
        log.run("r")
    with pytest.raises(ValueError, match="run name '.hidden'"):
        log.run(".hidden", [1.0])
    with pytest.raises(ValueError, match="run name 'a/b'"):
        log.run("a/b", [1.0])
    run = log.run("r", [1.0])
    with pytest.raises(ValueError, match="run 'r' already exists"):
        log.run("r", [1.0])
    with pytest.raises(RuntimeError, match="run 'r' is still open"):
        log.close()
    with pytest.raises(ValueError, match="run 'r': no steps were logged; the run was discarded"):
        run.close()
    with pytest.raises(ValueError, match="no runs were written"):
        log.close()
    assert not os.path.exists(tmp_path / "b" / "simfluence-log.json")
    with pytest.raises(ValueError, match="5 steps were logged but the run was declared with steps=6"):
        with log.run("s", [1.0], steps=6) as run:
            for _ in range(5):
                run.step([1], [1.0])
    assert os.listdir(tmp_path / "b" / "runs") == []


def test_an_exception_leaves_no_complete_log(tmp_path, cli):
    root = tmp_path / "log"
    with pytest.raises(KeyError):
        with LogWriter(root, [1, 2]) as log:
            with log.run("done", [1.0, 2.0]) as run:
                run.step([0], [0.5, 1.5])
            with log.run("crashed", [1.0, 2.0]) as run:
                run.step([0], [0.5, 1.5])
                raise KeyError("boom")
    assert not os.path.exists(root / "simfluence-log.json")
    assert os.listdir(root / "runs") == ["done"]          # the crashed run's partial folder is gone
    message = cli("evaluate", root, "--quiet", expect_failure=True)
    assert "did the training script finish" in message


def test_a_killed_script_leaves_no_complete_log(tmp_path, cli):
    """A process that dies mid-run (no exception handling at all) leaves only hidden partial files."""
    root = tmp_path / "log"
    script = textwrap.dedent("""
        import os, sys
        from simfluence_log import LogWriter
        log = LogWriter(sys.argv[1], [1, 2])
        with log.run("a", [1.0, 2.0]) as run:
            run.step([0], [0.5, 1.5])
        run = log.run("b", [1.0, 2.0])
        run.step([0], [0.5, 1.5])
        os._exit(3)
    """)
    env = dict(os.environ, PYTHONPATH=PACKAGE_SRC)
    done = subprocess.run([sys.executable, "-c", script, str(root)], env=env)
    assert done.returncode == 3
    assert sorted(os.listdir(root / "runs")) == [".b.partial", "a"]
    assert not os.path.exists(root / "simfluence-log.json")
    message = cli("evaluate", root, "--quiet", expect_failure=True)
    assert "did the training script finish" in message


def test_existing_logs_error_append_overwrite(tmp_path, cli):
    root = tmp_path / "log"
    fake_log(root, runs=3)
    with pytest.raises(FileExistsError, match="already holds a log"):
        LogWriter(root, [100, 101, "t-2"])
    with pytest.raises(ValueError, match="other test ids"):
        LogWriter(root, [100, 101], if_exists="append")
    with pytest.raises(ValueError, match="records losses every 1 steps, this writer every 2"):
        LogWriter(root, [100, 101, "t-2"], if_exists="append", loss_every=2)
    with LogWriter(root, [100, 101, "t-2"], if_exists="append", metadata={"more": "yes"}) as log:
        with pytest.raises(ValueError, match="run 'run2' already exists"):
            log.run("run2", [1, 2, 3])
        with log.run(None, [1, 2, 3]) as run:
            run.step([1], [1, 2, 3])
    assert log.run_names == ["run4"]
    assert sorted(os.listdir(root / "runs")) == ["run1", "run2", "run3", "run4"]
    assert json.loads((root / "simfluence-log.json").read_text())["metadata"] == {"more": "yes"}
    out = cli("evaluate", root, "--holdout-runs", "run4", "--lambda", 0.1, "--json", "--quiet")
    assert results.read_evaluation(out, as_frame=False)[0]["trajectories"] == 3
    fake_log(root, runs=2, tests=(5,), if_exists="overwrite")
    assert sorted(os.listdir(root / "runs")) == ["run1", "run2"]
    assert json.loads((root / "simfluence-log.json").read_text())["test_ids"] == [5]


def test_losses_every_k_steps(tmp_path, cli):
    root = tmp_path / "log"
    fake_log(root, runs=8, steps=10, loss_every=3)
    header = json.loads((root / "simfluence-log.json").read_text())
    assert header["metadata"] == {"loss_every": "3"}
    losses = np.load(root / "runs" / "run1" / "losses.npy")
    recorded = [r for r in range(11) if not np.isnan(losses[r]).any()]
    assert recorded == [0, 3, 6, 9, 10]
    assert np.isnan(losses[[1, 2, 4, 5, 7, 8]]).all()
    out = cli("evaluate", root, "--holdout", 3, "--lambda", 0.01, "--json", "--quiet")
    by_method = {r["method"]: r for r in results.read_evaluation(out, as_frame=False)}
    assert by_method["linear"]["final_step_mse"] < 0.1 * by_method["persistence"]["final_step_mse"]
    # Without "loss_every" the same NaN rows are refused, with a message saying why.
    header["metadata"] = {}
    (root / "simfluence-log.json").write_text(json.dumps(header))
    message = cli("evaluate", root, "--quiet", expect_failure=True)
    assert "not finite (nan)" in message and "loss_every" in message


def test_loss_every_refusals(tmp_path):
    log = LogWriter(tmp_path, [1], loss_every=3)
    run = log.run("r", [1.0])
    run.step([0])
    with pytest.raises(ValueError, match="no losses, but with loss_every=3 step 3 must record them"):
        run.step([0])
        run.step([0])
    assert run.steps == 2
    run.step([0], [0.5])
    run.step([0], [0.4])             # step 4: allowed only as the last step...
    with pytest.raises(ValueError, match="step 4 recorded losses although loss_every=3"):
        run.step([0])
    run.close()
    run = log.run("s", [1.0])
    run.step([0])
    with pytest.raises(ValueError, match=r"its last step \(1\) recorded no losses"):
        run.close()
    with pytest.raises(ValueError, match="metadata says loss_every='2' but loss_every=3"):
        LogWriter(tmp_path / "x", [1], metadata={"loss_every": "2"}, loss_every=3)
    with pytest.raises(ValueError, match="loss_every must be a whole number"):
        LogWriter(tmp_path / "x", [1], loss_every=0)
    log.close()
    assert sorted(os.listdir(tmp_path / "runs")) == ["r"]
