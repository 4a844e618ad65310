"""Judge Decoding (Bachmann et al., ICLR 2025): a linear probe on the verifier's hidden states.

Modules, each with one job: ``samples`` reads labelled data sets (JSONL), ``labels`` turns a
response's first error span into token labels, ``features`` extracts the verifier's hidden states
(one forward pass per sample, cached on disk), ``fit`` trains the logistic head, ``metrics``
scores it (ROC-AUC, bad-token recall, the θ curve), ``head`` saves, loads and checks heads,
``train`` and ``evaluate`` tie these together for ``verispec judge``. The rule itself is
:class:`verispec.rules.judge.JudgeRule`; ``data`` builds the data sets.

Nothing is imported here, so ``import verispec.judge.data`` stays light.
"""
