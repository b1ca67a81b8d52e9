"""PyTorch helpers: per-example losses for logs, and per-example gradient features for the
classic attribution methods (layout in Docs/GradientFeatures.md).

Batches are what a ``DataLoader`` yields: either a mapping of tensors (Hugging Face style:
``input_ids``, ``attention_mask``, ``labels``, ...; the model is called as ``model(**inputs)``
without the labels) or a pair ``(inputs, labels)`` (the model is called as ``model(inputs)``).
Model outputs may be a tensor of logits, a tuple whose first element is the logits, or an object
with ``.logits``.

``loss_fn`` is ``"causal_lm"`` (mean next-token cross-entropy of each sequence, positions whose
label is -100 or whose ``attention_mask`` is 0 ignored; labels default to ``input_ids``),
``"classification"`` (cross-entropy of each example's logits against its class), or a callable
``loss_fn(logits, labels)`` returning one loss per example. The loss is the per-example loss the
log records: the gradients of the same loss are what TracIn-CP and its relatives compare.
"""

import json
import math
import os
import sys
import warnings
from array import array
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from . import _npy
from ._values import id_list

IGNORE_INDEX = -100
IDS_KEY = "simfluence_ids"      # a batch key the Hugging Face collator adds; never passed to models
_LABEL_KEYS = ("labels", "label", "label_ids")

__all__ = [
    "causal_lm_losses", "classification_losses", "per_example_losses", "evaluate_losses",
    "per_example_gradients", "GaussianProjection", "Checkpoint", "write_gradient_features",
]


# -- losses ------------------------------------------------------------------------------------

def classification_losses(logits, labels):
    """Cross-entropy of each row of ``logits`` (B, C) against ``labels`` (B,)."""
    return F.cross_entropy(logits.float(), labels, reduction="none")


def causal_lm_losses(logits, labels, attention_mask=None, ignore_index=IGNORE_INDEX):
    """Mean next-token cross-entropy of each sequence: ``logits[:, t]`` predicts ``labels[:, t + 1]``
    (labels unshifted, as Hugging Face models take them). Positions whose label is
    ``ignore_index`` or whose ``attention_mask`` is 0 do not count. A sequence with no target
    token gets loss 0 (:func:`per_example_losses` refuses such batches)."""
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, ignore_index)
    targets = labels[:, 1:]
    scores = logits[:, :-1, :].float()
    per_token = F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1),
                                ignore_index=ignore_index, reduction="none").view(targets.shape)
    mask = (targets != ignore_index).to(per_token.dtype)
    return (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def _loss_function(loss_fn):
    """loss(logits, labels, attention_mask) -> (B,) for a name or a callable."""
    if loss_fn == "causal_lm":
        return causal_lm_losses
    if loss_fn == "classification":
        return lambda logits, labels, mask: classification_losses(logits, labels)
    if callable(loss_fn):
        return lambda logits, labels, mask: loss_fn(logits, labels)
    raise ValueError("loss_fn must be 'causal_lm', 'classification' or a callable loss_fn(logits, labels), found %r"
                     % (loss_fn,))


def _device(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _split(batch, loss_fn, device):
    """(positional inputs, keyword inputs, labels, attention_mask), tensors on `device`."""
    move = lambda v: v.to(device) if torch.is_tensor(v) else v
    if isinstance(batch, Mapping):
        labels = next((batch[k] for k in _LABEL_KEYS if k in batch), None)
        kwargs = {k: move(v) for k, v in batch.items() if k not in _LABEL_KEYS and k != IDS_KEY}
        mask = kwargs.get("attention_mask")
        if labels is None and loss_fn == "causal_lm":
            labels = batch.get("input_ids")
        if labels is None:
            raise ValueError("the batch has no labels (keys: %s)" % ", ".join(map(str, batch)))
        return (), kwargs, move(labels), mask
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return (move(batch[0]),), {}, move(batch[1]), None
    raise TypeError("a batch must be a mapping of tensors or a pair (inputs, labels), found %s" % type(batch).__name__)


def _logits(output):
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


def _check_targets(labels, mask, loss_fn):
    if loss_fn != "causal_lm":
        return
    if mask is not None:
        labels = labels.masked_fill(mask == 0, IGNORE_INDEX)
    counts = (labels[:, 1:] != IGNORE_INDEX).sum(dim=1)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError("example %d of the batch has no target token (after the first token, every label is %d "
                         "or masked): its mean token loss is undefined" % (empty[0], IGNORE_INDEX))


def per_example_losses(model, batch, loss_fn="causal_lm"):
    """Each example's loss under ``model`` (in eval mode, without gradients), a (B,) tensor on
    the model's device. The model's training mode is restored afterwards."""
    loss = _loss_function(loss_fn)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            args, kwargs, labels, mask = _split(batch, loss_fn, _device(model))
            _check_targets(labels, mask, loss_fn)
            losses = loss(_logits(model(*args, **kwargs)), labels, mask)
    finally:
        model.train(was_training)
    if losses.dim() != 1:
        raise ValueError("loss_fn returned shape %s; expected one loss per example" % (tuple(losses.shape),))
    return losses.detach()


def evaluate_losses(model, batches, loss_fn="causal_lm"):
    """Every example's loss over ``batches`` (e.g. a non-shuffling DataLoader of the test
    examples), in order, as a list of floats: what ``RunWriter.step`` takes."""
    out = []
    for batch in batches:
        out.extend(per_example_losses(model, batch, loss_fn).double().cpu().tolist())
    return out


# -- gradients ---------------------------------------------------------------------------------

def _trainable(model):
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _gradients_vmap(model, params, args, kwargs, labels, mask, loss):
    from torch.func import functional_call, grad, vmap

    buffers = dict(model.named_buffers())
    tensor_kwargs = {k: v for k, v in kwargs.items() if torch.is_tensor(v)}
    constant_kwargs = {k: v for k, v in kwargs.items() if not torch.is_tensor(v)}

    def loss_one(p, a, kw, y, m):
        a = tuple(t.unsqueeze(0) for t in a)
        kw = {k: t.unsqueeze(0) for k, t in kw.items()}
        out = functional_call(model, (p, buffers), a, {**kw, **constant_kwargs})
        return loss(_logits(out), y.unsqueeze(0), None if m is None else m.unsqueeze(0)).sum()

    in_dims = (None, 0 if args else None, 0 if tensor_kwargs else None, 0, None if mask is None else 0)
    g = vmap(grad(loss_one), in_dims=in_dims)(params, args, tensor_kwargs, labels, mask)
    return torch.cat([g[n].reshape(labels.shape[0], -1) for n in params], dim=1)


def _gradients_loop(model, params, args, kwargs, labels, mask, loss):
    names = list(params)
    tensors = [params[n] for n in names]
    rows = []
    for i in range(labels.shape[0]):
        a = tuple(t[i:i + 1] for t in args)
        kw = {k: (v[i:i + 1] if torch.is_tensor(v) else v) for k, v in kwargs.items()}
        value = loss(_logits(model(*a, **kw)), labels[i:i + 1], None if mask is None else mask[i:i + 1]).sum()
        g = torch.autograd.grad(value, tensors, allow_unused=True)
        rows.append(torch.cat([(torch.zeros_like(t) if gi is None else gi).reshape(-1) for t, gi in zip(tensors, g)]))
    return torch.stack(rows)


_VMAP_FAILED = set()


def per_example_gradients(model, batch, loss_fn="causal_lm", *, method="auto"):
    """The gradient of each example's own loss with respect to the model's trainable parameters
    (flattened and concatenated in ``named_parameters`` order): a (B, D) tensor, computed with
    the model in eval mode (no dropout) and its mode restored afterwards.

    ``method``: ``"vmap"`` (``torch.func``: one vectorised pass), ``"loop"`` (one backward pass
    per example) or ``"auto"`` (vmap, falling back to the loop with a warning for models
    ``torch.func`` cannot vectorise)."""
    if method not in ("auto", "vmap", "loop"):
        raise ValueError("method must be 'auto', 'vmap' or 'loop', found %r" % (method,))
    loss = _loss_function(loss_fn)
    was_training = model.training
    model.eval()
    try:
        args, kwargs, labels, mask = _split(batch, loss_fn, _device(model))
        _check_targets(labels, mask, loss_fn)
        params = _trainable(model)
        if not params:
            raise ValueError("the model has no trainable parameters")
        kind = type(model).__name__
        if method == "vmap" or (method == "auto" and kind not in _VMAP_FAILED):
            try:
                detached = {n: p.detach() for n, p in params.items()}
                return _gradients_vmap(model, detached, args, kwargs, labels, mask, loss).detach()
            except Exception as e:              # noqa: BLE001 - reported, then the loop is used
                if method == "vmap":
                    raise
                _VMAP_FAILED.add(kind)
                warnings.warn("torch.func.vmap could not vectorise %s (%s: %s); computing per-example gradients "
                              "one example at a time" % (kind, type(e).__name__, e), RuntimeWarning, stacklevel=2)
        with torch.enable_grad():
            return _gradients_loop(model, params, args, kwargs, labels, mask, loss).detach()
    finally:
        model.train(was_training)


class GaussianProjection:
    """A fixed random projection R (D x k, entries N(0, 1/k)) from a seed: ``project(G) = G @ R``
    in float64. R is drawn in blocks of ``chunk`` rows from a CPU generator seeded with ``seed``,
    so the same (D, k, seed, chunk) always gives the same R, on any device; it is kept in memory
    when it takes at most ``cache_bytes``, else redrawn block by block for every call."""

    def __init__(self, input_dimension, dimension, seed=0, chunk=1 << 16, cache_bytes=256 << 20):
        if dimension < 1 or input_dimension < 1:
            raise ValueError("projection dimensions must be positive")
        self.input_dimension = int(input_dimension)
        self.dimension = int(dimension)
        self.seed = int(seed)
        self.chunk = int(chunk)
        self._cached = None
        if self.input_dimension * self.dimension * 8 <= cache_bytes:
            self._cached = torch.cat(list(self._blocks()), dim=0)

    def _blocks(self):
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        scale = 1.0 / math.sqrt(self.dimension)
        for lo in range(0, self.input_dimension, self.chunk):
            hi = min(self.input_dimension, lo + self.chunk)
            yield torch.randn(hi - lo, self.dimension, generator=gen, dtype=torch.float64) * scale

    def __call__(self, G):
        if G.shape[1] != self.input_dimension:
            raise ValueError("gradients have %d columns, the projection expects %d" % (G.shape[1], self.input_dimension))
        G = G.double()
        if self._cached is not None:
            return G @ self._cached.to(G.device)
        out = torch.zeros(G.shape[0], self.dimension, dtype=torch.float64, device=G.device)
        lo = 0
        for R in self._blocks():
            out += G[:, lo:lo + R.shape[0]] @ R.to(G.device)
            lo += R.shape[0]
        return out

    def describe(self):
        return {"kind": "gaussian", "dimension": self.dimension, "seed": self.seed,
                "original_dimension": self.input_dimension, "entries": "N(0, 1/dimension)",
                "generator": "torch.randn, CPU generator, %d-row blocks" % self.chunk}


class Checkpoint:
    """A saved state of the reference run: ``step`` (updates done), the plain ``learning_rate``
    over the steps it stands for, ``steps_covered`` (0: not part of TracIn-CP, e.g. a final
    model kept for Grad-Dot and influence), and the model's ``state_dict`` (None: the model as it was when
    :func:`write_gradient_features` was called)."""

    __slots__ = ("step", "learning_rate", "steps_covered", "state_dict")

    def __init__(self, step, learning_rate, steps_covered, state_dict=None):
        self.step, self.learning_rate, self.steps_covered, self.state_dict = step, learning_rate, steps_covered, state_dict

    @classmethod
    def of(cls, value):
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls(value["step"], value["learning_rate"], value["steps_covered"], value.get("state_dict"))
        return cls(*value)


def _rows_bytes(G, dtype):
    G = G.detach().to("cpu", torch.float32 if dtype == "float32" else torch.float64).contiguous()
    if sys.byteorder == "little":
        try:
            return G.numpy().tobytes()
        except (RuntimeError, ImportError):    # torch without NumPy
            pass
    values = array("f" if dtype == "float32" else "d", G.reshape(-1).tolist())
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _reiterable(batches, what):
    if iter(batches) is batches:
        raise TypeError("%s is an iterator, read once; pass a list of batches or a DataLoader (it is read once per "
                        "checkpoint)" % what)
    return batches


def write_gradient_features(directory, model, checkpoints, train_batches, test_batches, *, train_ids, test_ids,
                            batch_size, loss_fn="causal_lm", dimension=None, seed=0, dtype="float32",
                            metadata=None, method="auto"):
    """Writes per-example gradient features of every training-pool and test example at each
    checkpoint of one reference run into ``directory`` (conventionally ``<log>/gradients``,
    where the CLI finds them): ``ckpt<k>_train.npy``, ``ckpt<k>_test.npy`` and ``index.json``,
    the index last. Returns the index as a dict.

    ``checkpoints``: :class:`Checkpoint` objects or ``(step, learning_rate, steps_covered,
    state_dict)`` tuples. ``train_batches`` / ``test_batches``: re-iterable batches (lists or
    non-shuffling DataLoaders) whose rows follow ``train_ids`` / ``test_ids``. ``batch_size``:
    the training batch size of the logged runs (the scores divide by it). ``dimension``: project
    the gradients to this many dimensions with a :class:`GaussianProjection` seeded with
    ``seed`` (default: no projection). ``dtype``: ``"float32"`` or ``"float64"`` files.

    The model's parameters and training mode are restored afterwards.
    """
    directory = os.fspath(directory)
    train_ids = id_list(train_ids, "train_ids")
    test_ids = id_list(test_ids, "test_ids")
    dtype = _npy.check_dtype(dtype)
    checkpoints = [Checkpoint.of(c) for c in checkpoints]
    if not checkpoints:
        raise ValueError("no checkpoints: expected at least one")
    for c in checkpoints:
        if c.step < 0 or c.steps_covered < 0 or not (c.learning_rate >= 0 and math.isfinite(c.learning_rate)):
            raise ValueError("checkpoint at step %r: step, steps_covered and learning_rate must be >= 0 (and finite)"
                             % (c.step,))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a whole number >= 1, found %r" % (batch_size,))
    splits = (("train", _reiterable(train_batches, "train_batches"), train_ids),
              ("test", _reiterable(test_batches, "test_batches"), test_ids))
    D = sum(p.numel() for p in _trainable(model).values())
    project = GaussianProjection(D, dimension, seed) if dimension is not None else None
    width = D if project is None else project.dimension
    os.makedirs(directory, exist_ok=True)

    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    entries = []
    try:
        for k, c in enumerate(checkpoints):
            model.load_state_dict(c.state_dict if c.state_dict is not None else saved)
            names = {}
            for split, batches, ids in splits:
                name = "ckpt%d_%s.npy" % (k, split)
                writer = _npy.RowWriter(os.path.join(directory, name), width, dtype)
                try:
                    for batch in batches:
                        G = per_example_gradients(model, batch, loss_fn, method=method)
                        if project is not None:
                            G = project(G)
                        bad = (~torch.isfinite(G).all(dim=1)).nonzero().flatten().tolist()
                        if bad:
                            row = writer.rows + bad[0]
                            raise ValueError("checkpoint %d (step %d): the gradient of %s example %r is not finite"
                                             % (k, c.step, split, ids[row] if row < len(ids) else row))
                        if writer.rows + G.shape[0] > len(ids):
                            raise ValueError("%s_batches hold more examples than the %d %s_ids"
                                             % (split, len(ids), split))
                        writer.append_bytes(_rows_bytes(G, dtype), G.shape[0])
                    if writer.rows != len(ids):
                        raise ValueError("%s_batches hold %d examples but %s_ids lists %d"
                                         % (split, writer.rows, split, len(ids)))
                    writer.finish()
                except BaseException:
                    writer.abort()
                    raise
                names[split] = name
            entries.append({"step": int(c.step), "learning_rate": float(c.learning_rate),
                            "steps_covered": int(c.steps_covered), "train": names["train"], "test": names["test"]})
    finally:
        model.load_state_dict(saved)

    index = {"format": "simfluence-gradients", "version": 1, "batch_size": batch_size, "dimension": width,
             "train_ids": train_ids, "test_ids": test_ids,
             "projection": {"kind": "none"} if project is None else project.describe(),
             "checkpoints": entries, "metadata": dict(metadata or {})}
    tmp = os.path.join(directory, "index.json.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    os.replace(tmp, os.path.join(directory, "index.json"))
    return index
