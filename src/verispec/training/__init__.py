"""Tooling that makes the trained parts decoding loads: judge heads and CoSD's classifiers.

It sits above the core and the evaluation tasks (training data comes from their reserved
training items); the core and the runtime never import it, so decoding with a shipped head or a
trained tree needs none of this.
"""
