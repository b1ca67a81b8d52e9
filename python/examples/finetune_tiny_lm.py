"""Fine-tune a tiny language model in several runs on CPU, log them for simfluence, then score
simulators of those runs and write an HTML report with the simfluence CLI.

    pip install "./python[torch,transformers,pandas]"        # torch: the CPU build is enough
    python python/examples/finetune_tiny_lm.py --out tiny-lm-log
    python python/examples/finetune_tiny_lm.py --out tiny-lm-trainer --trainer   # with the HF Trainer

The model is a 2-layer GPT-2 with 32-dimensional embeddings, built from a config (nothing is
downloaded), over characters. Every run starts from the same initial model and fine-tunes on a
random half of a pool of short sentences ("ana likes tea", ...), in a random order, with AdamW;
after every step it records each test sentence's mean token loss. The test sentences repeat facts
of the pool, so a run that saw "ana likes tea" should do better on it: the attribution at the
end of the report says which training sentences helped which test sentence.

With the plain PyTorch loop (the default) the script also saves gradient features of the first
run (simfluence_log.torch.write_gradient_features), so TracIn-CP is scored beside Simfluence.
With --trainer it uses transformers.Trainer and simfluence_log.hf.SimfluenceCallback instead.
The `simfluence` binary comes from --simfluence, $SIMFLUENCE_BIN or the PATH (build it with
`swift build -c release --product simfluence`).
"""

import argparse
import os
import random
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

from simfluence_log import LogWriter  # noqa: E402
from simfluence_log.cli import find_binary  # noqa: E402
from simfluence_log.torch import Checkpoint, evaluate_losses, write_gradient_features  # noqa: E402

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
PAD, BOS = 0, 1                        # token ids; characters are 2, 3, ...
NAMES = ["ana", "bob", "cy", "dee", "eve", "fay", "gus", "hal"]
THINGS = ["tea", "jam", "figs", "rice", "kale", "plums"]


def encode(text):
    return [BOS] + [ALPHABET.index(c) + 2 for c in text]


def collate(features):
    """Pads a list of {"input_ids": [...]} into input_ids, attention_mask and labels (-100 on padding)."""
    n = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), n), PAD, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, f in enumerate(features):
        ids[k, :len(f["input_ids"])] = torch.tensor(f["input_ids"])
        mask[k, :len(f["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def corpus(pool_size, test_size, seed):
    """A pool of distinct sentences and test sentences that repeat some of the pool's facts."""
    rng = random.Random(seed)
    facts = [(n, t) for n in NAMES for t in THINGS]
    rng.shuffle(facts)
    verbs = ["likes", "eats", "wants"]
    pool = []
    for k in range(pool_size):
        name, thing = facts[k % len(facts)]
        pool.append({"id": k, "text": "%s %s %s" % (name, verbs[k // len(facts) % 3], thing)})
    test = []
    for j in range(test_size):
        name, thing = facts[j]
        test.append({"id": "test-%d" % j, "text": "%s likes %s" % (name, thing)})
    for example in pool + test:
        example["input_ids"] = encode(example["text"])
    return pool, test


def base_model(seed):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(ALPHABET) + 2, n_positions=32, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=BOS, eos_token_id=BOS, pad_token_id=PAD)
    return GPT2LMHeadModel(config)


def run_loop(args, pool, test, root):
    """The plain PyTorch loop: LogWriter + evaluate_losses, and gradient features of run1."""
    test_batches = [collate(test[i:i + 8]) for i in range(0, len(test), 8)]
    initial = base_model(args.seed).state_dict()
    checkpoints = []
    metadata = {"model": "gpt2 2x32, characters", "optimizer": "adamw", "lr": str(args.lr),
                "batch_size": str(args.batch)}
    with LogWriter(root, [t["id"] for t in test], train_ids=[p["id"] for p in pool], metadata=metadata,
                   loss_every=args.eval_every, if_exists="overwrite") as log:
        for r in range(args.runs):
            rng = random.Random(1000 + r)
            subset = rng.sample(pool, len(pool) // 2)
            model = base_model(args.seed)
            model.load_state_dict(initial)
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
            batches = []
            for _ in range(args.epochs):
                order = subset[:]
                rng.shuffle(order)
                batches += [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
            with log.run("run%d" % (r + 1), evaluate_losses(model, test_batches)) as run:
                for t, batch in enumerate(batches, 1):
                    if r == 0 and (t - 1) % args.checkpoint_every == 0:
                        checkpoints.append(Checkpoint(t - 1, args.lr, min(args.checkpoint_every, len(batches) - t + 1),
                                                      {k: v.clone() for k, v in model.state_dict().items()}))
                    model.train()
                    loss = model(**collate(batch)).loss
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    record = t % args.eval_every == 0 or t == len(batches)
                    run.step([e["id"] for e in batch], evaluate_losses(model, test_batches) if record else None)
            if r == 0:
                checkpoints.append(Checkpoint(len(batches), args.lr, 0,
                                              {k: v.clone() for k, v in model.state_dict().items()}))
                write_gradient_features(os.path.join(root, "gradients"), model, checkpoints,
                                        [collate(pool[i:i + 8]) for i in range(0, len(pool), 8)], test_batches,
                                        train_ids=[p["id"] for p in pool], test_ids=[t["id"] for t in test],
                                        batch_size=args.batch, metadata={"reference_run": "run1"},
                                        method="loop")      # GPT-2's masks defeat torch.func.vmap
            print("run %d of %d: %d steps" % (r + 1, args.runs, len(batches)), file=sys.stderr)


def run_trainer(args, pool, test, root):
    """The same runs through transformers.Trainer, logged by SimfluenceCallback."""
    import shutil
    import tempfile

    from transformers import Trainer, TrainingArguments, logging

    from simfluence_log.hf import IdCollator, SimfluenceCallback

    logging.set_verbosity_error()
    for folder in ("runs", "simfluence-log.json"):
        path = os.path.join(root, folder)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    collator = IdCollator(collate, columns=["input_ids"])
    callback = SimfluenceCallback(root, test, collator=collator, eval_every=args.eval_every,
                                  metadata={"model": "gpt2 2x32, characters"})
    scratch = tempfile.mkdtemp()
    try:
        for r in range(args.runs):
            subset = random.Random(1000 + r).sample(pool, len(pool) // 2)
            training = TrainingArguments(output_dir=scratch, per_device_train_batch_size=args.batch,
                                         num_train_epochs=args.epochs, learning_rate=args.lr, lr_scheduler_type="constant",
                                         weight_decay=0.01, seed=r, report_to=[], save_strategy="no",
                                         logging_strategy="no", remove_unused_columns=False, use_cpu=True,
                                         disable_tqdm=True)
            Trainer(model=base_model(args.seed), args=training, train_dataset=subset, data_collator=collator,
                    callbacks=[callback]).train()
            print("run %d of %d: %s" % (r + 1, args.runs, callback.runs[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tiny-lm-log", help="the log folder (replaced if it holds a log)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pool", type=int, default=24, help="training sentences; each run uses half")
    parser.add_argument("--test", type=int, default=6, help="test sentences")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--eval-every", type=int, default=1, help="record test losses every k steps")
    parser.add_argument("--checkpoint-every", type=int, default=3, help="gradient checkpoints of run1, every k steps")
    parser.add_argument("--holdout", type=int, default=3, help="runs held out by evaluate and report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainer", action="store_true", help="train with transformers.Trainer + SimfluenceCallback")
    parser.add_argument("--simfluence", help="the simfluence binary (default: $SIMFLUENCE_BIN, else the PATH)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    pool, test = corpus(args.pool, args.test, args.seed)
    (run_trainer if args.trainer else run_loop)(args, pool, test, args.out)
    print("wrote the log to %s" % args.out, file=sys.stderr)

    try:
        binary = find_binary(args.simfluence)
    except FileNotFoundError as e:
        sys.exit("%s\nThe log is written; score it later with: simfluence evaluate %s" % (e, args.out))
    methods = ["--method", "linear", "--method", "additive"]
    if not args.trainer:
        methods += ["--method", "tracin-cp-scaled"]
    # Random subsets: a held-out run may use an example no training run saw (--unseen mean).
    common = [args.out] + methods + ["--holdout", str(args.holdout), "--lambda", "auto", "--unseen", "mean", "--quiet"]
    report = os.path.join(args.out, "report.html")
    for command in (["evaluate"] + common, ["report"] + common + ["-o", report]):
        print("$ simfluence " + " ".join(command), flush=True)
        subprocess.run([binary] + command, check=True)
    print("report: %s" % report)


if __name__ == "__main__":
    main()
