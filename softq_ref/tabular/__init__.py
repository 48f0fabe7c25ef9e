"""Tabular maximum-entropy dynamic programming (floor 2: imports only ``softq_ref.core``).

Finite MDPs (``TabularMDP``, spec ``def-mdp``) and exact solvers for the objects of
Sec. 2 and Appendix A of Haarnoja et al. (2017): the soft Bellman operator
(Theorem 2), soft Q-iteration (Theorem 3), soft policy evaluation and improvement
(Theorem 4), the maximum-entropy objective (Eq. (2)) and the finite-horizon
recursion of control as inference.  The test suite checks the paper's theorems on
these, as Hypothesis properties (``tests/test_theorems.py``).
"""

from softq_ref.tabular.mdp import TabularMDP, random_mdp
from softq_ref.tabular.policy_gradient import (
    boltzmann_policy_gradient,
    discounted_state_visitation,
    maxent_gradient_ascent,
    maxent_policy_gradient,
    objective_of_logits,
)
from softq_ref.tabular.solvers import (
    finite_horizon_soft_values,
    maxent_objective,
    q_iteration,
    soft_bellman_operator,
    soft_policy_evaluation,
    soft_policy_improvement,
    soft_policy_iteration,
    soft_q_iteration,
)

__all__ = [
    "TabularMDP",
    "boltzmann_policy_gradient",
    "discounted_state_visitation",
    "finite_horizon_soft_values",
    "maxent_gradient_ascent",
    "maxent_objective",
    "maxent_policy_gradient",
    "objective_of_logits",
    "q_iteration",
    "random_mdp",
    "soft_bellman_operator",
    "soft_policy_evaluation",
    "soft_policy_improvement",
    "soft_policy_iteration",
    "soft_q_iteration",
]
