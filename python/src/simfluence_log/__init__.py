"""simfluence_log: write training logs for simfluence from Python training loops.

- :class:`LogWriter` / :class:`RunWriter`: the native log layout, standard library only.
- :mod:`simfluence_log.torch`: per-example losses and gradient features with PyTorch.
- :mod:`simfluence_log.hf`: a Hugging Face ``Trainer`` callback that logs every run.
- :mod:`simfluence_log.results`: the CLI's outputs as pandas DataFrames or lists.
- :mod:`simfluence_log.cli`: finding and running the ``simfluence`` binary.

The optional modules import their dependencies only when imported themselves.
"""

from .writer import LogWriter, RunWriter

__version__ = "0.1.0"
__all__ = ["LogWriter", "RunWriter", "__version__"]
