"""The conformance targets, one module per family of equations.

Each module holds everything about its targets: the ``Target`` declarations (signature,
spec id, conventions), the float64 references that are not mechanical, the tolerance
scales, the golden cases written to ``spec/vectors`` and the Hypothesis inputs of the
randomised properties.  Adding a target is one declaration in its family (and, for a new
family, one line here); ``softq_ref.conformance.targets`` collects them in this order,
which is the order of ``softq-ref conform --list`` within a spec entry and decides the
default target of a spec id (``eq-13`` -> ``svgd_direction``).

* ``soft_values``: eq. (5), (6), the entropy, eq. (10);
* ``bellman``: eq. (11), alone and with eq. (10) inside;
* ``svgd``: eq. (13), (14) and the tanh squashing;
* ``tabular``: soft Q-iteration and soft policy evaluation on finite MDPs;
* ``actor_critic``: soft actor-critic's critic target, tanh-Gaussian log-density and losses;
* ``policy_gradient``: the soft return of maximum-entropy policy gradients.
"""

from softq_ref.conformance.families import actor_critic, bellman, policy_gradient, soft_values, svgd, tabular

FAMILIES = (soft_values, bellman, svgd, tabular, actor_critic, policy_gradient)

__all__ = ["FAMILIES", "actor_critic", "bellman", "policy_gradient", "soft_values", "svgd", "tabular"]
