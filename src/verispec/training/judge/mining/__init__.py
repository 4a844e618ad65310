"""Labels where the judge decides: the draft's own disagreements with the verifier, rolled out (`verispec judge mine`)."""
