"""simfluence_log.torch: losses, a real fine-tune logged and evaluated by the CLI, and gradient
features equal to per-example gradients computed one example at a time."""

import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simfluence_log import LogWriter, results
from simfluence_log.torch import (Checkpoint, GaussianProjection, causal_lm_losses, classification_losses,
                                  evaluate_losses, per_example_gradients, per_example_losses,
                                  write_gradient_features)

torch.set_num_threads(1)


def test_causal_lm_losses_ignore_padding():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    ids = torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    got = causal_lm_losses(logits, ids, mask)
    for b, n in enumerate([5, 3]):               # n real tokens: positions 0..n-2 predict 1..n-1
        want = torch.nn.functional.cross_entropy(logits[b, :n - 1], ids[b, 1:n])
        assert torch.allclose(got[b], want)
    labels = ids.masked_fill(mask == 0, -100)    # the same through labels alone
    assert torch.allclose(causal_lm_losses(logits, labels), got)


def test_classification_losses_and_batches():
    model = torch.nn.Linear(3, 4)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0])
    want = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    assert torch.allclose(classification_losses(model(x), y), want)
    model.train()
    got = per_example_losses(model, (x, y), "classification")
    assert model.training and not got.requires_grad and torch.allclose(got, want)
    custom = per_example_losses(model, {"input": x, "labels": y},          # called as model(input=x)
                                lambda logits, labels: classification_losses(logits, labels) * 2)
    assert torch.allclose(custom, 2 * want)
    assert evaluate_losses(model, [(x[:2], y[:2]), (x[2:], y[2:])], "classification") == pytest.approx(want.tolist())
    with pytest.raises(ValueError, match="loss_fn must be"):
        per_example_losses(model, (x, y), "mse")


def test_causal_lm_refuses_examples_without_targets():
    class Echo(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 5)

        def forward(self, input_ids, attention_mask=None):
            return self.emb(input_ids)

    batch = {"input_ids": torch.tensor([[1, 2, 3], [4, 0, 0]]), "attention_mask": torch.tensor([[1, 1, 1], [1, 0, 0]])}
    with pytest.raises(ValueError, match="example 1 of the batch has no target token"):
        per_example_losses(Echo(), batch)


# -- a real fine-tune ---------------------------------------------------------------------------

class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(4, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def data(seed, n):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    y = torch.arange(n) % 3
    return centres[y] + torch.randn(n, 4, generator=g), y


def test_a_real_fine_tune_is_logged_fitted_and_evaluated(tmp_path, cli):
    """10 runs of SGD on random 12-example subsets of a 24-example pool, logged with LogWriter and
    evaluate_losses; the CLI then fits and scores simulators on it, with gradient features."""
    pool_x, pool_y = data(1, 24)
    test_x, test_y = data(2, 6)
    test_batches = [(test_x[:4], test_y[:4]), (test_x[4:], test_y[4:])]
    torch.manual_seed(0)
    base = Classifier().state_dict()
    train_ids = ["ex%d" % i for i in range(24)]
    root = tmp_path / "log"
    checkpoints = []
    with LogWriter(root, test_ids=range(100, 106), train_ids=train_ids,
                   metadata={"optimizer": "sgd", "lr": "0.2"}) as log:
        for r in range(10):
            model = Classifier()
            model.load_state_dict(base)
            opt = torch.optim.SGD(model.parameters(), lr=0.2)
            rng = random.Random(r)
            chosen = rng.sample(range(24), 12)
            with log.run("run%d" % (r + 1), evaluate_losses(model, test_batches, "classification")) as run:
                for t in range(6):
                    if r == 0:
                        checkpoints.append(Checkpoint(t, 0.2, 1, {k: v.clone() for k, v in model.state_dict().items()}))
                    idx = chosen[2 * t:2 * t + 2]
                    model.train()
                    loss = torch.nn.functional.cross_entropy(model(pool_x[idx]), pool_y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    run.step([train_ids[i] for i in idx], evaluate_losses(model, test_batches, "classification"))
    pool_batches = [(pool_x[i:i + 8], pool_y[i:i + 8]) for i in range(0, 24, 8)]
    write_gradient_features(root / "gradients", model, checkpoints, pool_batches, test_batches,
                            train_ids=train_ids, test_ids=range(100, 106), batch_size=2, loss_fn="classification",
                            metadata={"reference_run": "run1"})

    out = cli("evaluate", root, "--method", "linear", "--method", "additive", "--method", "tracin-cp-scaled",
              "--holdout", 3, "--json", "--quiet")
    scores = results.read_evaluation(out, as_frame=False)
    by_method = {r["method"]: r for r in scores}
    assert set(by_method) == {"linear", "additive", "tracin-cp-scaled", "persistence", "mean-run"}
    for r in scores:
        assert np.isfinite(r["all_steps_mse"]), r
    assert by_method["linear"]["all_steps_mse"] < by_method["persistence"]["all_steps_mse"]
    assert by_method["tracin-cp-scaled"]["all_steps_mse"] < by_method["persistence"]["all_steps_mse"]
    cli("fit", root, "--lambda", 0.1, "-o", tmp_path / "model.simfluence", "--quiet")
    sim = results.read_simulation(cli("simulate", "--model", tmp_path / "model.simfluence", "--curriculum",
                                      root / "runs" / "run2" / "curriculum.jsonl"), as_frame=False)
    assert len(sim) == 6 * 7 and {r["test_id"] for r in sim} == set(range(100, 106))


# -- gradient features ----------------------------------------------------------------------------

def one_at_a_time(model, xs, ys):
    """Reference per-example gradients: one backward pass per example, plain autograd."""
    rows = []
    for x, y in zip(xs, ys):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[None]), y[None]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    model.zero_grad()
    return torch.stack(rows).double()


@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_per_example_gradients(method):
    torch.manual_seed(3)
    model = Classifier()
    x, y = data(4, 5)
    G = per_example_gradients(model, (x, y), "classification", method=method)
    assert G.shape == (5, sum(p.numel() for p in model.parameters()))
    assert torch.allclose(G.double(), one_at_a_time(model, x, y), atol=1e-6)


def test_gradient_features_equal_one_example_at_a_time(tmp_path, cli):
    torch.manual_seed(5)
    model = Classifier()
    states = []
    for k in range(2):
        states.append({n: v.clone() for n, v in model.state_dict().items()})
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
    final_state = {n: v.clone() for n, v in model.state_dict().items()}
    train_x, train_y = data(6, 7)
    test_x, test_y = data(7, 3)
    train_batches = [(train_x[:4], train_y[:4]), (train_x[4:], train_y[4:])]
    test_batches = [(test_x, test_y)]
    checkpoints = [(0, 0.1, 5, states[0]), Checkpoint(5, 0.05, 5, states[1]), {"step": 10, "learning_rate": 0.05,
                                                                               "steps_covered": 0, "state_dict": None}]
    D = sum(p.numel() for p in model.parameters())
    model.train()
    for dimension, dtype in [(None, "float64"), (16, "float32")]:
        out = tmp_path / ("g%s" % dimension)
        index = write_gradient_features(out, model, checkpoints, train_batches, test_batches,
                                        train_ids=["a%d" % i for i in range(7)], test_ids=[1, 2, 3], batch_size=2,
                                        loss_fn="classification", dimension=dimension, seed=11, dtype=dtype)
        assert model.training and all(torch.equal(v, final_state[n]) for n, v in model.state_dict().items())
        on_disk = json.loads((out / "index.json").read_text())
        assert on_disk == json.loads(json.dumps(index))
        assert on_disk["dimension"] == (dimension or D) and on_disk["batch_size"] == 2
        assert on_disk["train_ids"] == ["a%d" % i for i in range(7)] and on_disk["test_ids"] == [1, 2, 3]
        assert [c["step"] for c in on_disk["checkpoints"]] == [0, 5, 10]
        assert [c["steps_covered"] for c in on_disk["checkpoints"]] == [5, 5, 0]
        R = None if dimension is None else GaussianProjection(D, dimension, seed=11)._cached
        for k, state in enumerate(states + [final_state]):
            reference = Classifier()
            reference.load_state_dict(state)
            for split, (xs, ys) in (("train", (train_x, train_y)), ("test", (test_x, test_y))):
                want = one_at_a_time(reference, xs, ys)
                if R is not None:
                    want = want @ R
                got = np.load(out / ("ckpt%d_%s.npy" % (k, split)))
                assert got.dtype == np.dtype(dtype) and got.shape == (len(xs), dimension or D)
                tolerance = 1e-9 if dtype == "float64" else 1e-5
                np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=tolerance)
        if dimension is not None:
            assert on_disk["projection"]["kind"] == "gaussian" and on_disk["projection"]["seed"] == 11
    # The same seed gives the same projection, drawn in blocks or at once.
    blocks = GaussianProjection(D, 16, seed=11, chunk=7, cache_bytes=0)
    once = GaussianProjection(D, 16, seed=11, chunk=7)
    G = torch.randn(3, D)
    assert torch.allclose(blocks(G), once(G))
    with pytest.raises(ValueError, match="train_batches hold 4 examples but train_ids lists 7"):
        write_gradient_features(tmp_path / "bad", model, checkpoints[:1], train_batches[:1], test_batches,
                                train_ids=range(7), test_ids=[1, 2, 3], batch_size=2, loss_fn="classification")
    with pytest.raises(TypeError, match="is an iterator"):
        write_gradient_features(tmp_path / "bad", model, checkpoints[:1], iter(train_batches), test_batches,
                                train_ids=range(7), test_ids=[1, 2, 3], batch_size=2, loss_fn="classification")
