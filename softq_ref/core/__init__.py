"""The paper's equations, one pure function each (floor 1: imports nothing above it)."""

from softq_ref.core.bellman import soft_bellman_target, soft_q_loss
from softq_ref.core.soft_values import (
    boltzmann_policy,
    entropy,
    log_boltzmann_policy,
    soft_value,
    soft_value_is,
    uniform_log_density,
)
from softq_ref.core.svgd import (
    median_bandwidth,
    rbf_kernel,
    svgd_direction,
    svgd_surrogate,
    tanh_log_det_jacobian,
)

__all__ = [
    "boltzmann_policy",
    "entropy",
    "log_boltzmann_policy",
    "median_bandwidth",
    "rbf_kernel",
    "soft_bellman_target",
    "soft_q_loss",
    "soft_value",
    "soft_value_is",
    "svgd_direction",
    "svgd_surrogate",
    "tanh_log_det_jacobian",
    "uniform_log_density",
]
