"""Judge training data built without a human in the loop (TokenCourt-style, issue 4).

Modules, each with one job: ``records`` (the JSONL format and resumable writing), ``arithmetic``
(re-checking written arithmetic), ``spans`` (where an error starts), ``mutations`` (single-token
code edits), one module per source (``math_source``, ``code_source``, ``choice_source``,
``chat_source``), ``generation`` (model responses), ``review`` (the hand-checked subset),
``card`` (the data card) and ``build`` (the command).
"""
