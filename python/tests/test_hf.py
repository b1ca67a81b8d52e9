"""SimfluenceCallback with a real transformers.Trainer on a tiny GPT-2 built from a config (no
downloads): the logged batches are the ids the model actually trained on."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

from simfluence_log import LogWriter, results  # noqa: E402
from simfluence_log.hf import IdCollator, SimfluenceCallback  # noqa: E402
from simfluence_log.torch import per_example_gradients  # noqa: E402

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "


def encode(text):
    return [ALPHABET.index(c) + 1 for c in text]       # 0 is padding


def pad(features):
    """A plain padding collator: input_ids, attention_mask, labels (-100 on padding)."""
    n = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), n, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, f in enumerate(features):
        ids[k, :len(f["input_ids"])] = torch.tensor(f["input_ids"])
        mask[k, :len(f["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


# Every training text is distinct, so the test can tell from the tokens which example ran.
TRAIN = [{"id": i if i % 2 else "ex-%d" % i, "input_ids": encode("example %d is %s" % (i, "abc"[i % 3] * (2 + i % 5)))}
         for i in range(14)]
TEST = [{"id": "t%d" % j, "input_ids": encode("example %d is %s" % (j, "abc"[j % 3] * 3))} for j in range(3)]


def tiny_model(seed):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(ALPHABET) + 1, n_positions=32, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return GPT2LMHeadModel(config)


def arguments(tmp_path, seed, **overrides):
    values = dict(output_dir=str(tmp_path / "trainer"), per_device_train_batch_size=2, gradient_accumulation_steps=2,
                  num_train_epochs=2, learning_rate=5e-3, report_to=[], save_strategy="no", logging_strategy="no",
                  remove_unused_columns=False, use_cpu=True, seed=seed, disable_tqdm=True)
    values.update(overrides)
    return TrainingArguments(**values)


def watch(model):
    """Records the example ids of every training forward pass, from the tokens the model got."""
    by_tokens = {tuple(f["input_ids"]): f["id"] for f in TRAIN}
    seen = []

    def hook(module, args, kwargs):
        if module.training:
            ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
            seen.append([by_tokens[tuple(row[m.bool()].tolist())] for row, m in zip(ids, mask)])

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def curriculum(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_trainer_runs_are_logged_with_the_batches_the_model_saw(tmp_path, cli):
    root = tmp_path / "log"
    collator = IdCollator(pad)
    callback = SimfluenceCallback(root, TEST, collator=collator, eval_every=2, metadata={"model": "tiny gpt-2"})
    seen_by_run = []
    for seed in range(4):
        model = tiny_model(0)                               # every run starts from the same model
        seen = watch(model)
        trainer = Trainer(model=model, args=arguments(tmp_path, seed, dataloader_num_workers=1 if seed == 0 else 0),
                          train_dataset=TRAIN, data_collator=collator, callbacks=[callback])
        trainer.train()
        seen_by_run.append(seen)
        # After every train() the folder is a complete log.
        assert json.loads((root / "simfluence-log.json").read_text())["metadata"]["loss_every"] == "2"
    assert callback.runs == ["run1", "run2", "run3", "run4"]

    header = json.loads((root / "simfluence-log.json").read_text())
    assert header["test_ids"] == ["t0", "t1", "t2"]
    assert header["metadata"]["model"] == "tiny gpt-2" and header["metadata"]["gradient_accumulation_steps"] == 2
    for name, seen in zip(callback.runs, seen_by_run):
        steps = curriculum(root / "runs" / name / "curriculum.jsonl")
        # 14 examples in micro-batches of 2, 2 per step: 4 steps an epoch (the last with one
        # micro-batch), 2 epochs.
        assert [s["step"] for s in steps] == list(range(1, 9))
        micro = [ids for ids in seen]
        assert len(micro) == 14
        expected, k = [], 0
        for size in [2, 2, 2, 1] * 2:
            expected.append([i for ids in micro[k:k + size] for i in ids])
            k += size
        assert [s["batch"] for s in steps] == expected
        assert sorted(map(str, expected[0] + expected[1] + expected[2] + expected[3])) == sorted(str(f["id"]) for f in TRAIN)
        losses = np.load(root / "runs" / name / "losses.npy")
        assert losses.shape == (9, 3)
        assert [r for r in range(9) if not np.isnan(losses[r]).any()] == [0, 2, 4, 6, 8]
        assert np.isnan(losses[[1, 3, 5, 7]]).all()
        assert (losses[8] < losses[0]).all()                # training helps the similar test texts
    # Each run's first losses are the same model's, so equal; the runs differ in their order.
    firsts = [np.load(root / "runs" / n / "losses.npy")[0] for n in callback.runs]
    assert all(np.allclose(f, firsts[0]) for f in firsts)
    assert len({json.dumps(curriculum(root / "runs" / n / "curriculum.jsonl")) for n in callback.runs}) == 4

    out = cli("evaluate", root, "--holdout", 1, "--lambda", 1, "--json", "--quiet")
    assert {r["method"] for r in results.read_evaluation(out, as_frame=False)} == {"linear", "persistence", "mean-run"}


def test_the_final_step_is_evaluated_and_an_open_writer_takes_runs(tmp_path, cli):
    root = tmp_path / "log"
    collator = IdCollator(pad)
    with LogWriter(root, ["t2", "t0", "t1"], loss_every=3) as log:
        callback = SimfluenceCallback(log, TEST, collator=collator, run_name="only")
        model = tiny_model(1)
        Trainer(model=model, args=arguments(tmp_path, 0, gradient_accumulation_steps=1, max_steps=5),
                train_dataset=TRAIN, data_collator=collator, callbacks=[callback]).train()
        # The hook strips the ids outside training too: evaluation through the Trainer works.
        Trainer(model=model, args=arguments(tmp_path, 0), eval_dataset=TEST, data_collator=collator,
                callbacks=[callback]).evaluate()
    losses = np.load(root / "runs" / "only" / "losses.npy")
    assert [r for r in range(6) if not np.isnan(losses[r]).any()] == [0, 3, 5]
    # Columns follow the writer's test ids: check the last row against a direct evaluation.
    from simfluence_log.torch import per_example_losses
    direct = per_example_losses(model, collator(TEST)).tolist()        # t0, t1, t2
    assert losses[5] == pytest.approx([direct[2], direct[0], direct[1]], rel=1e-5)
    assert [len(s["batch"]) for s in curriculum(root / "runs" / "only" / "curriculum.jsonl")] == [2] * 5


def test_refusals(tmp_path):
    collator = IdCollator(pad)
    callback = SimfluenceCallback(tmp_path / "log", TEST, collator=collator)
    trainer = Trainer(model=tiny_model(0), args=arguments(tmp_path, 0, remove_unused_columns=True),
                      train_dataset=TRAIN, data_collator=collator, callbacks=[callback])
    with pytest.raises(ValueError, match="remove_unused_columns=False"):
        trainer.train()
    assert not os.path.exists(tmp_path / "log" / "simfluence-log.json")
    with pytest.raises(KeyError, match="has no 'id' column"):
        collator([{"input_ids": [1, 2]}])
    with pytest.raises(ValueError, match="the test dataset's ids are not the LogWriter's test_ids"):
        SimfluenceCallback(LogWriter(tmp_path / "other", ["x"]), TEST, collator=collator)
    with pytest.raises(ValueError, match="eval_every=2 but the LogWriter was made with loss_every=1"):
        SimfluenceCallback(LogWriter(tmp_path / "other2", ["t0", "t1", "t2"]), TEST, collator=collator, eval_every=2)
    # A Trainer whose collator does not carry the ids is stopped at the first training batch.
    model = tiny_model(0)
    callback = SimfluenceCallback(tmp_path / "log3", TEST, collator=collator)
    trainer = Trainer(model=model, args=arguments(tmp_path, 0), train_dataset=TRAIN,
                      data_collator=lambda f: pad([{"input_ids": x["input_ids"]} for x in f]), callbacks=[callback])
    with pytest.raises(RuntimeError, match="a training batch without 'simfluence_ids' reached the model"):
        trainer.train()
    # The callback can be used again: the failed run is discarded, the next one is run1.
    with pytest.warns(RuntimeWarning, match="run 'run1' did not finish"):
        Trainer(model=model, args=arguments(tmp_path, 0, max_steps=2), train_dataset=TRAIN, data_collator=collator,
                callbacks=[callback]).train()
    assert callback.runs == ["run1"] and os.listdir(tmp_path / "log3" / "runs") == ["run1"]


def test_gradients_of_a_transformers_model_match_one_example_at_a_time():
    """GPT-2 cannot be vectorised by torch.func (data-dependent masks), so the loop is used; its
    rows equal the gradients of each example's own mean token loss."""
    from simfluence_log import torch as helpers
    helpers._VMAP_FAILED.discard("GPT2LMHeadModel")          # warn here even if vmap failed before
    model = tiny_model(2)
    batch = IdCollator(pad)(TRAIN[:3])
    with pytest.warns(RuntimeWarning, match="one example at a time"):
        G = per_example_gradients(model, batch)
    model.eval()
    for k, f in enumerate(TRAIN[:3]):
        model.zero_grad()
        ids = torch.tensor([f["input_ids"]])
        model(input_ids=ids, labels=ids).loss.backward()     # Hugging Face's own mean token loss
        want = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.requires_grad])
        assert torch.allclose(G[k], want, atol=1e-6)



def test_models_made_and_dropped_run_after_run(tmp_path):
    """A new model per run, the old one freed: Python may give the new one the old one's id(),
    and the new model must get the hook all the same."""
    collator = IdCollator(pad)
    callback = SimfluenceCallback(tmp_path / "log", TEST, collator=collator)
    for _ in range(10):
        model = torch.nn.Linear(2, 2)
        callback.on_init_end(None, None, None, model=model)
        del model
        model = torch.nn.Linear(2, 2)
        callback.on_init_end(None, None, None, model=model)
        assert len(model._forward_pre_hooks) == 1
        del model
    for seed in range(3):
        Trainer(model=tiny_model(seed), args=arguments(tmp_path, seed, max_steps=2), train_dataset=TRAIN,
                data_collator=collator, callbacks=[callback]).train()
    assert callback.runs == ["run1", "run2", "run3"]
