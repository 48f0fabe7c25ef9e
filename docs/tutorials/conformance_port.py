"""A small NumPy "port" of eq. (10), with the bug one public PyTorch port has, and its fix.

Used by docs/tutorials/conformance.md; the test suite runs the tutorial, so its output on
the page is the output of this file.
"""

# --8<-- [start:port]
import numpy as np


def soft_value_buggy(q_samples, log_proposal, alpha):
    """alpha * logsumexp(Q/alpha - log q) -- forgets the -log K of the sample mean."""
    z = q_samples / alpha - log_proposal
    m = z.max(axis=-1, keepdims=True)
    return alpha * (m[..., 0] + np.log(np.exp(z - m).sum(axis=-1)))


def soft_value_fixed(q_samples, log_proposal, alpha):
    """Eq. (10): alpha * (logsumexp(Q/alpha - log q) - log K)."""
    k = q_samples.shape[-1]
    return soft_value_buggy(q_samples, log_proposal, alpha) - alpha * np.log(k)
# --8<-- [end:port]
