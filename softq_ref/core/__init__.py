"""The paper's equations, one pure function each (floor 1: imports nothing above it)."""

from softq_ref.core.actor_critic import (
    default_target_entropy,
    polyak_update,
    sac_policy_loss,
    sac_q_target,
    sac_soft_value,
    sac_temperature_loss,
    tanh_gaussian_log_prob,
)
from softq_ref.core.bellman import soft_bellman_target, soft_q_loss
from softq_ref.core.policy_gradient import soft_policy_gradient_surrogate, soft_returns, soft_td_advantage
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
    "default_target_entropy",
    "entropy",
    "log_boltzmann_policy",
    "median_bandwidth",
    "polyak_update",
    "rbf_kernel",
    "sac_policy_loss",
    "sac_q_target",
    "sac_soft_value",
    "sac_temperature_loss",
    "soft_bellman_target",
    "soft_policy_gradient_surrogate",
    "soft_q_loss",
    "soft_returns",
    "soft_td_advantage",
    "soft_value",
    "soft_value_is",
    "svgd_direction",
    "svgd_surrogate",
    "tanh_gaussian_log_prob",
    "tanh_log_det_jacobian",
    "uniform_log_density",
]
