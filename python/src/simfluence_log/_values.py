"""Checking and converting ids and losses from whatever a training loop holds (Python values,
NumPy arrays and scalars, PyTorch tensors) into plain Python values."""

import math
import operator

# The CLI refuses losses beyond this magnitude as corrupt (Sources/Simfluence/IO/LossValues.swift).
LARGEST_LOSS = 1e30


def plain(values):
    """A tensor or array as nested Python lists; anything else unchanged."""
    if hasattr(values, "detach"):          # a torch tensor
        values = values.detach()
        if hasattr(values, "cpu"):
            values = values.cpu()
    if hasattr(values, "tolist") and not isinstance(values, (str, bytes)):
        return values.tolist()
    return values


def example_id(value, what):
    """An example id as an int or a str (NumPy and tensor integers become ints)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, float, bytes)) or value is None:
        raise TypeError("%s: expected an integer or a string id, found %r (%s)" % (what, value, type(value).__name__))
    try:
        return operator.index(value)
    except TypeError:
        pass
    value = plain(value)                   # a 0-d tensor or array
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError("%s: expected an integer or a string id, found %r (%s)" % (what, value, type(value).__name__))


def id_key(value):
    """The id's text as the CLI sees it: integers in decimal, strings as they are."""
    return value if isinstance(value, str) else str(value)


def id_list(values, what):
    """A sequence of ids as a list of ints and strs."""
    values = plain(values)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError("%s: expected a sequence of ids, found %r" % (what, values))
    return [example_id(v, "%s[%d]" % (what, k)) for k, v in enumerate(values)]


def first_duplicate(ids):
    seen = set()
    for i in ids:
        k = id_key(i)
        if k in seen:
            return i
        seen.add(k)
    return None


def loss_row(values, test_ids, what):
    """One loss per test example as a list of finite floats, with a message naming the bad one."""
    values = plain(values)
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError("%s: expected one loss per test example (a sequence, array or tensor), found %r"
                        % (what, values))
    if len(values) != len(test_ids):
        raise ValueError("%s: %d losses for %d test examples (one per test id, in test_ids order)"
                         % (what, len(values), len(test_ids)))
    out = []
    for j, v in enumerate(values):
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise TypeError("%s: the loss of test example %r is %r, not a number (expected a flat sequence "
                            "of one loss per test example)" % (what, test_ids[j], v)) from None
        if not math.isfinite(x) or abs(x) > LARGEST_LOSS:
            raise ValueError("%s: the loss of test example %r is %r; a log holds finite losses of magnitude "
                             "at most 1e30 (did training diverge?)" % (what, test_ids[j], x))
        out.append(x)
    return out
