"""Logging Hugging Face ``Trainer`` runs: one run of a native log per ``Trainer.train()``.

    from simfluence_log.hf import IdCollator, SimfluenceCallback

    collator = IdCollator(my_collator)                   # drops the "id" column, keeps the ids
    callback = SimfluenceCallback("mylog", test_dataset, collator=collator, eval_every=5)
    args = TrainingArguments(..., remove_unused_columns=False)
    Trainer(model, args, train_dataset=train_dataset, data_collator=collator, callbacks=[callback]).train()

How the ids get through: :class:`IdCollator` takes the id column out of every example, collates
the rest with the wrapped collator and adds the batch's ids under the key ``"simfluence_ids"``.
The callback registers a forward pre-hook on the model that removes that key before every
forward pass and, during training, records the ids of each batch the model actually runs on. So
the log holds what the model saw, whatever the sampler, the data-loader workers, prefetching or
gradient accumulation did (a step's batch is all its micro-batches). Every test example's loss is
evaluated before training, after every ``eval_every``-th step and after the last step.

Refused with a message: several processes or GPUs (each would see one shard of every step),
``remove_unused_columns=True`` (the Trainer would drop the id column before the collator sees it)
and resuming from a checkpoint.
"""

import warnings
import weakref
from collections.abc import Mapping

from transformers import TrainerCallback

from ._values import example_id, id_key
from .torch import IDS_KEY, per_example_losses
from .writer import LogWriter

__all__ = ["IdCollator", "SimfluenceCallback", "IDS_KEY"]


class IdCollator:
    """Wraps a data collator: takes ``id_column`` out of every example (a mapping), collates the
    rest with ``collator`` (default: ``transformers.default_data_collator``) and puts the ids,
    in batch order, in the batch under ``"simfluence_ids"``. ``columns``: if given, only these
    keys are passed to ``collator`` (e.g. to leave out raw text the collator cannot batch)."""

    def __init__(self, collator=None, id_column="id", columns=None):
        if collator is None:
            from transformers import default_data_collator
            collator = default_data_collator
        self.collator = collator
        self.id_column = id_column
        self.columns = None if columns is None else set(columns)

    def __call__(self, features):
        ids, rest = [], []
        for k, f in enumerate(features):
            if not isinstance(f, Mapping):
                raise TypeError("IdCollator: example %d of the batch is a %s; expected a mapping with an %r column"
                                % (k, type(f).__name__, self.id_column))
            if self.id_column not in f:
                raise KeyError("IdCollator: example %d of the batch has no %r column (its keys: %s). With a Trainer, "
                               "TrainingArguments(remove_unused_columns=False) keeps the column; otherwise the "
                               "Trainer drops it before the collator is called"
                               % (k, self.id_column, ", ".join(map(str, f))))
            ids.append(example_id(f[self.id_column], "IdCollator: the %r of example %d" % (self.id_column, k)))
            rest.append({key: v for key, v in f.items()
                         if key != self.id_column and (self.columns is None or key in self.columns)})
        batch = self.collator(rest)
        batch[IDS_KEY] = ids
        return batch


class SimfluenceCallback(TrainerCallback):
    """Writes one run of a native log per ``Trainer.train()``.

    ``log``: a :class:`~simfluence_log.LogWriter` (its test ids must be the test dataset's; you
    close it when all runs are done), or a folder path: the callback then writes the log there
    itself, adding a run per ``train()`` (``if_exists="append"``) and rewriting the header after
    each, so the folder is a complete log whenever no training is running.

    ``test_dataset``: the test examples, a sequence of mappings with the id column, in the form
    the collator takes; ``collator``: an :class:`IdCollator` (default: ``IdCollator()``).
    ``eval_every``: evaluate the test losses every k optimisation steps (and after the last
    one); default: the writer's ``loss_every`` (1 for a path). ``loss_fn``: ``"causal_lm"``,
    ``"classification"`` or a callable, as in :mod:`simfluence_log.torch`. ``run_name``: the
    run's name (default ``run1``, ``run2``, ...); with several ``train()`` calls, a name is
    used once. ``metadata``: extra header metadata for a log the callback writes.
    """

    def __init__(self, log, test_dataset, *, collator=None, eval_every=None, loss_fn="causal_lm",
                 eval_batch_size=None, run_name=None, metadata=None):
        self.collator = collator if collator is not None else IdCollator()
        if not isinstance(self.collator, IdCollator):
            raise TypeError("collator must be an IdCollator (it carries the example ids to the model)")
        self.test_dataset = list(test_dataset)
        if not self.test_dataset:
            raise ValueError("test_dataset is empty")
        column = self.collator.id_column
        for k, f in enumerate(self.test_dataset):
            if not isinstance(f, Mapping) or column not in f:
                raise KeyError("test example %d has no %r column" % (k, column))
        self.test_ids = [example_id(f[column], "test example %d's %r" % (k, column))
                         for k, f in enumerate(self.test_dataset)]
        if isinstance(log, LogWriter):
            every = log.loss_every
            if eval_every is not None and eval_every != every:
                raise ValueError("eval_every=%d but the LogWriter was made with loss_every=%d: give the same k to both"
                                 % (eval_every, every))
            if sorted(map(id_key, log.test_ids)) != sorted(map(id_key, self.test_ids)):
                raise ValueError("the test dataset's ids are not the LogWriter's test_ids")
            self.writer, self.path = log, None
        else:
            every = 1 if eval_every is None else eval_every
            self.writer, self.path = None, log
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError("eval_every must be a whole number >= 1, found %r" % (every,))
        self.eval_every = every
        self.loss_fn = loss_fn
        self.eval_batch_size = eval_batch_size
        self.run_name = run_name
        self.metadata = dict(metadata or {})
        self._hooked = weakref.WeakSet()     # models with the hook (not ids: those are reused)
        self._hooks = []
        self._recording = False
        self._seen = []              # ids the model trained on since the last optimisation step
        self._pending = None         # (batch, losses, step): written when the next step ends
        self._run = None
        self._own_writer = None
        self.runs = []               # names of the runs written, in order

    # -- the model hook ---------------------------------------------------------------------

    def _attach(self, model):
        if model is None or model in self._hooked:
            return
        self._hooks.append(model.register_forward_pre_hook(self._pre_forward, with_kwargs=True))
        self._hooked.add(model)

    def _pre_forward(self, module, args, kwargs):
        if IDS_KEY not in kwargs:
            if self._recording and module.training:
                raise RuntimeError("SimfluenceCallback: a training batch without %r reached the model: pass the "
                                   "IdCollator as the Trainer's data_collator" % IDS_KEY)
            return None
        kwargs = dict(kwargs)
        ids = kwargs.pop(IDS_KEY)
        if self._recording and module.training:
            self._seen.extend(ids)
        return args, kwargs

    # -- evaluation -------------------------------------------------------------------------

    def _evaluate(self, model, args):
        size = self.eval_batch_size or args.per_device_eval_batch_size
        losses = {}
        for lo in range(0, len(self.test_dataset), size):
            batch = self.collator(self.test_dataset[lo:lo + size])
            ids = batch[IDS_KEY]
            values = per_example_losses(model, batch, self.loss_fn).double().cpu().tolist()
            for i, v in zip(ids, values):
                losses[id_key(i)] = v
        return [losses[id_key(i)] for i in self._writer_test_ids()]

    def _writer_test_ids(self):
        return (self.writer or self._own_writer).test_ids

    # -- Trainer events ---------------------------------------------------------------------

    def on_init_end(self, args, state, control, model=None, **kwargs):
        self._attach(model)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if args.world_size > 1:
            raise RuntimeError("SimfluenceCallback records the batches of one process; with %d processes every step "
                               "trains on %d shards. Log with a single process." % (args.world_size, args.world_size))
        if args.n_gpu > 1:
            raise RuntimeError("SimfluenceCallback does not support DataParallel over %d GPUs (each replica sees part of "
                               "every batch): use one device (CUDA_VISIBLE_DEVICES)" % args.n_gpu)
        if args.remove_unused_columns:
            raise ValueError("SimfluenceCallback needs TrainingArguments(remove_unused_columns=False): otherwise the "
                             "Trainer drops the id column before the IdCollator sees it (IdCollator(columns=[...]) "
                             "chooses what reaches your collator)")
        if state.global_step != 0:
            raise RuntimeError("SimfluenceCallback cannot log a run resumed from a checkpoint (at step %d): its earlier "
                               "steps are not in the log" % state.global_step)
        if self._run is not None:            # the previous train() raised: its partial run is useless
            warnings.warn("SimfluenceCallback: run %r did not finish (its train() raised); it is discarded"
                          % self._run.name, RuntimeWarning, stacklevel=2)
            self._run.abort()
            self._run = None
            if self._own_writer is not None:
                self._own_writer.abort()
                self._own_writer = None
        self._attach(model)
        if self.writer is None:
            meta = {"trainer": "transformers.Trainer", "learning_rate": args.learning_rate,
                    "per_device_train_batch_size": args.per_device_train_batch_size,
                    "gradient_accumulation_steps": args.gradient_accumulation_steps,
                    "optimizer": str(getattr(args.optim, "value", args.optim)),
                    "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))}
            meta.update(self.metadata)
            self._own_writer = LogWriter(self.path, self.test_ids, metadata=meta, loss_every=self.eval_every,
                                         if_exists="append")
        writer = self.writer or self._own_writer
        if self.run_name is not None and self.run_name in self.runs:
            raise ValueError("run_name %r was already used by an earlier train(); give each run its own name"
                             % self.run_name)
        self._run = writer.run(self.run_name, self._evaluate(model, args))
        self._seen, self._pending = [], None
        self._recording = True

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self._run is None:
            return
        batch, self._seen = self._seen, []
        if not batch:
            raise RuntimeError("SimfluenceCallback: step %d ended but the model ran on no batch carrying ids"
                               % state.global_step)
        self._flush()
        step = state.global_step
        last = state.max_steps and step >= state.max_steps
        losses = self._evaluate(model, args) if step % self.eval_every == 0 or last else None
        self._pending = (batch, losses, step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self._run is None:
            return
        self._recording = False
        try:
            if self._pending is not None and self._pending[1] is None:
                if args.load_best_model_at_end:
                    raise RuntimeError("SimfluenceCallback: training stopped at step %d, which is not a multiple of "
                                       "eval_every=%d, and load_best_model_at_end replaced the final model, so the "
                                       "loss after the last step is unknown; use eval_every=1 or turn "
                                       "load_best_model_at_end off" % (self._pending[2], self.eval_every))
                batch, _, step = self._pending
                self._pending = (batch, self._evaluate(model, args), step)
            self._flush()
            self._run.close()
            self.runs.append(self._run.name)
        except BaseException:
            self._run.abort()
            if self._own_writer is not None:
                self._own_writer.abort()
            raise
        finally:
            self._run = None
        if self._own_writer is not None:
            self._own_writer.close()
            self._own_writer = None

    def _flush(self):
        if self._pending is not None:
            batch, losses, step = self._pending
            self._run.step(batch, losses, step=step)
            self._pending = None

    def remove_hooks(self):
        """Removes the forward pre-hooks from the models (batches with ids then fail in forward)."""
        for h in self._hooks:
            h.remove()
        self._hooks, self._hooked = [], weakref.WeakSet()
