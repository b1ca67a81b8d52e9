"""The README's LogWriter example and python/examples/finetune_tiny_lm.py, run as users run them."""

import json
import os
import re

import numpy as np
import pytest

from conftest import REPO, run_python


def readme_python_blocks():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    section = text[text.index("### Writing logs from a training loop"):text.index("## At scale")]
    return re.findall(r"```python\n(.*?)\n```", section, re.S)


def test_readme_example_writes_a_log_the_cli_reads(tmp_path, cli):
    """The first python block of "Writing logs from a training loop" (Swift's LogLayoutTests
    runs it too), then simfluence reads its log."""
    script = tmp_path / "example.py"
    script.write_text(readme_python_blocks()[0])
    done = run_python(script, tmp_path / "mylog")
    assert done.returncode == 0, done.stderr
    header = json.loads((tmp_path / "mylog" / "simfluence-log.json").read_text())
    assert header["test_ids"] == [100, 101, 102] and header["metadata"] == {"trainer": "example"}
    losses = np.load(tmp_path / "mylog" / "runs" / "run1" / "losses.npy")
    assert losses.shape == (6, 3) and losses[5, 2] == pytest.approx(3.0 * 0.9 ** 5)
    out = cli("evaluate", tmp_path / "mylog", "--holdout", 1, "--lambda", 1, "--unseen", "mean", "--quiet")
    assert "held-out runs (1): run1" in out


def test_every_readme_python_block_compiles():
    for block in readme_python_blocks():
        compile(block, "<README python block>", "exec")


@pytest.mark.parametrize("mode", ["loop", "trainer"])
def test_finetune_tiny_lm_example(tmp_path, simfluence_bin, mode):
    pytest.importorskip("transformers")
    out = tmp_path / "log"
    args = ["--out", out, "--runs", 5, "--holdout", 2, "--simfluence", simfluence_bin]
    if mode == "trainer":
        args += ["--trainer", "--eval-every", 2]
    done = run_python(os.path.join(REPO, "python", "examples", "finetune_tiny_lm.py"), *args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "$ simfluence evaluate" in done.stdout and "$ simfluence report" in done.stdout
    assert re.search(r"^linear\s", done.stdout, re.M) and re.search(r"^persistence\s", done.stdout, re.M)
    assert (out / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert sorted(os.listdir(out / "runs")) == ["run%d" % i for i in range(1, 6)]
    if mode == "loop":
        assert re.search(r"^tracin-cp-scaled\s", done.stdout, re.M)
        index = json.loads((out / "gradients" / "index.json").read_text())
        assert len(index["train_ids"]) == 24 and len(index["test_ids"]) == 6
    else:
        assert json.loads((out / "simfluence-log.json").read_text())["metadata"]["loss_every"] == "2"


def test_digits_mlp_torch_example(tmp_path, simfluence_bin):
    """A trainer the simulators were not written against (torch SGD with momentum, a ReLU MLP):
    on its held-out runs the default stack beats the better of Simfluence-Linear and the
    curriculum-blind mean-run baseline on all-steps MSE by at least 20%, and ranks which
    curriculum helps each test image better than Simfluence-Linear does."""
    out = tmp_path / "log"
    done = run_python(os.path.join(REPO, "python", "examples", "digits_mlp_torch.py"), "--out", out, "--runs", 40,
                      "--holdout", 16, "--simfluence", simfluence_bin, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(out / "runs"), key=lambda name: int(name[3:])) == ["run%d" % i for i in range(1, 41)]
    rows = {m: (float(mse), float(runs) if runs != "-" else None)
            for m, mse, runs in re.findall(r"^(\S+)\s+([0-9.]+)\s+(\S+)$", done.stdout, re.M)}
    assert set(rows) == {"linear", "stack", "persistence", "mean-run"}, done.stdout
    assert rows["stack"][0] <= 0.8 * min(rows["linear"][0], rows["mean-run"][0]), done.stdout
    assert rows["stack"][1] >= rows["linear"][1] + 0.1, done.stdout


def test_order_sensitivity_script(tmp_path, simfluence_bin, cli):
    """scripts/order-sensitivity.py on a small digits log: the unchanged curriculum reproduces the
    logged run exactly, a late swap of adjacent batches moves the final losses, the in-batch
    permutation control does not, and the simulator's columns are filled; a wrong workload flag is
    refused instead of measured."""
    log = tmp_path / "log"
    cli("train", "-o", log, "--runs", 6, "--no-gradients", "--quiet")
    cli("fit", log, "--method", "lag-kernel", "--lambda", 1, "-o", tmp_path / "m.simfluence", "--quiet")
    script = os.path.join(REPO, "scripts", "order-sensitivity.py")
    done = run_python(script, "--log", log, "--model", tmp_path / "m.simfluence", "--simfluence", simfluence_bin)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line[:36].strip(): line[36:].split() for line in done.stdout.splitlines()[1:]}
    assert float(rows["unchanged"][0]) == 0
    assert float(rows["permute within every batch"][0]) < 1e-3
    late = [v for k, v in rows.items() if k.startswith("swap batches") and int(k.split()[2].rstrip(",")) > 40]
    assert late and all(float(v[0]) > 1e-3 and float(v[1]) > 0 for v in late), done.stdout
    refused = run_python(script, "--log", log, "--optimizer", "adam", "--simfluence", simfluence_bin)
    assert refused.returncode != 0 and "does not reproduce" in refused.stderr
