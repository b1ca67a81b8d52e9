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


def _planted_saturation_log(folder, exponent, runs, seed, pool=24, tests=8, steps=30, batch=2):
    """A native log simulated by scripts/saturation-probe.py's model (immediate kernel, no loss
    scale, step terms 0) with the given psi exponent: the same planted effects B and starting
    losses for every `seed`, which draws the runs' batches and the 1e-5 noise of their losses."""
    planted = np.random.default_rng(17)
    cls = np.arange(pool) % 4
    b = np.where(cls[:, None] == (np.arange(tests) % 4)[None, :], -0.05, 0.012) * (0.5 + planted.random((pool, tests)))
    start = 2.0 + 0.3 * planted.random(tests)
    rng = np.random.default_rng(seed)
    h = np.maximum(0, -b)
    w = h / h.sum(1, keepdims=True)
    os.makedirs(folder / "runs")
    (folder / "simfluence-log.json").write_text(json.dumps(
        {"format": "simfluence-log", "version": 1, "train_ids": list(range(pool)), "test_ids": list(range(100, 100 + tests))}))
    for r in range(runs):
        loss = start.copy()
        rows, batches = [loss.copy()], []
        for s in range(steps):
            chosen = [int(i) for i in rng.choice(pool, batch, replace=False)]
            g = 1 - np.exp(-(w @ loss))
            p = (g / g.mean()) ** exponent
            loss = loss + sum(p[i] * b[i] for i in chosen)
            rows.append(loss.copy())
            batches.append(chosen)
        run = folder / "runs" / f"run{r + 1:02d}"
        os.makedirs(run)
        np.save(run / "losses.npy", np.array(rows) + 1e-5 * rng.standard_normal((steps + 1, tests)))
        (run / "curriculum.jsonl").write_text("".join(json.dumps({"step": s + 1, "batch": bt}) + "\n" for s, bt in enumerate(batches)))


@pytest.mark.parametrize("planted", [0, 1])
def test_saturation_probe_prefers_the_planted_model(tmp_path, planted):
    """scripts/saturation-probe.py on logs simulated by its own model: cross-validation over the
    fit runs prefers the exponent that made them and, with it, predicts the validation runs to
    the noise level (the planted model recovered) and ranks held-out runs almost perfectly."""
    _planted_saturation_log(tmp_path / "fit", planted, runs=16, seed=3)
    _planted_saturation_log(tmp_path / "held", planted, runs=12, seed=4)
    script = os.path.join(REPO, "scripts", "saturation-probe.py")
    done = run_python(script, "--fit", tmp_path / "fit", "--kernel", '{"starts":[0,1],"weights":[1,0],"loss_scale":0}',
                      "--heldout", tmp_path / "held", "--lambdas", "0.001,0.01")
    assert done.returncode == 0, done.stdout + done.stderr
    chosen = {float(m[0]): (float(m[1]), float(m[2])) for m in
              re.findall(r"exponent (\S+): lambda \S+ chosen \(cross-validated all-steps MSE (\S+)\); held LDS (\S+)", done.stdout)}
    assert set(chosen) == {0.0, 1.0}, done.stdout
    other = 1.0 - planted
    assert chosen[planted][0] < 1e-7 < chosen[other][0], done.stdout
    assert chosen[planted][1] > 0.97 and chosen[planted][1] > chosen[other][1], done.stdout
    refused = run_python(script, "--fit", tmp_path / "fit")
    assert refused.returncode != 0 and "--model" in refused.stderr


@pytest.mark.parametrize("planted", [0, 1])
def test_lag_kernel_chooses_the_planted_saturation(tmp_path, cli, planted):
    """The tool's lag-kernel on logs simulated by the NumPy reference model
    (scripts/saturation-probe.py's, written out in _planted_saturation_log): its cross-validation
    over the fit runs chooses the saturation exponent that made them, and the model file says
    which (its provenance, and the kernel's "saturation" member when it is not 0)."""
    _planted_saturation_log(tmp_path / "fit", planted, runs=16, seed=3)
    model = tmp_path / "lk.simfluence"
    cli("fit", tmp_path / "fit", "--method", "lag-kernel", "--lambda-grid", "0.0001,0.001,0.01", "-o", model, "--quiet")
    header = open(model, "rb").read(1 << 16)
    header = header[:header.index(b"\n", header.index(b"\n") + 1)]
    assert b'"saturation":"%.1f"' % planted in header, header
    assert (b'"saturation":1.0}' in header) == (planted == 1), header
