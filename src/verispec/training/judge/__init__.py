"""Training and evaluating judge heads (the head itself is :mod:`verispec.judge.head`).

Modules, each with one job: ``samples`` reads labelled data sets (JSONL), ``labels`` turns a
response's first error span into token labels, ``features`` extracts the verifier's hidden states
(one forward pass per sample, cached on disk), ``fit`` trains the logistic head, ``metrics``
scores it (ROC-AUC, bad-token recall, the θ curve), ``train`` and ``evaluate`` tie these together
for ``verispec judge``; ``data`` builds the data sets.

Nothing is imported here, so ``import verispec.training.judge.data`` stays light.
"""
