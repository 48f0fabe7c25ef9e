"""A small PyTorch port of soft Q-learning's value and sampler pieces, as public ports write them.

Used by the torch-adapter tests and, verbatim, as the worked example of
``docs/conformance.md``.  ``soft_value`` carries the bug of a public PyTorch port: it
drops the ``- log K`` of eq. (10); ``soft_value_fixed`` puts it back.
"""

import math

import torch


def soft_value(q_samples, log_proposal, alpha):
    """V(s) from K sampled actions, as in a public port: log-sum-exp of the importance weights."""
    return alpha * torch.logsumexp(q_samples / alpha - log_proposal, dim=-1)


def soft_value_fixed(q_samples, log_proposal, alpha):
    """The same with eq. (10)'s -log K: the log of the *mean* importance weight."""
    k = q_samples.shape[-1]
    return alpha * (torch.logsumexp(q_samples / alpha - log_proposal, dim=-1) - math.log(k))


def svgd_surrogate(updated_actions, direction):
    """Backpropagating this moves each sampled action along its SVGD direction (eq. (14))."""
    return -(direction.detach() * updated_actions).sum()


def rbf_kernel(x, y, bandwidth):
    """k(x, y) = exp(-|x - y|^2 / h) and its gradient in x."""
    diff = x[:, None, :] - y[None, :, :]
    k = torch.exp(-(diff**2).sum(-1) / bandwidth)
    return k, -2.0 / bandwidth * diff * k[..., None]
