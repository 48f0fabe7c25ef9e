"""Third-party-style implementations for the conformance kit's tests.

``numpy_reference``: a correct, independent NumPy implementation written from the
formulas (it never imports softq_ref).  ``broken``: deliberately wrong implementations,
one per bug seen in public ports of soft Q-learning, which the kit must flag.
``torch_port``: a PyTorch port, for the torch adapter and the worked example of
``docs/conformance.md``.
"""
