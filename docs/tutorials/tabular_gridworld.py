"""Tutorial: soft Q-iteration on a gridworld, and the Boltzmann policy as alpha goes to 0.

Run it from the project root:

    .venv/bin/python docs/tutorials/tabular_gridworld.py [OUTPUT.png]

It prints the policy at the start state for a range of temperatures and writes the
figure (by default ``docs/figures/alpha_limit.png``).  ``docs/tutorials/tabular.md``
includes this file piece by piece, and ``tests/test_docs.py`` runs it.
"""

# --8<-- [start:setup]
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # exact tables: solve to 1e-10 in float64

import numpy as np

from softq_ref.core import boltzmann_policy, entropy
from softq_ref.tabular import TabularMDP, soft_q_iteration
# --8<-- [end:setup]

# --8<-- [start:gridworld]
# 'S' start, 'G' goal (absorbing, reward 1 per step), '#' wall, '.' free.
LAYOUT = (
    "......",
    "......",
    "S####G",
    "......",
)
ACTIONS = ("up", "right", "down", "left")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
SLIP = 0.1  # with probability SLIP the move is replaced by a uniformly random one
DISCOUNT = 0.9


def gridworld(layout=LAYOUT, slip=SLIP, discount=DISCOUNT):
    """The layout as a TabularMDP, the (row, col) of each state, and the start state."""
    rows, cols = len(layout), len(layout[0])
    cells = [(r, c) for r in range(rows) for c in range(cols) if layout[r][c] != "#"]
    index = {cell: i for i, cell in enumerate(cells)}

    def move(cell, delta):
        r, c = cell[0] + delta[0], cell[1] + delta[1]
        inside = 0 <= r < rows and 0 <= c < cols and layout[r][c] != "#"
        return (r, c) if inside else cell  # bumping into a wall or the border: stay

    transitions = np.zeros((len(cells), len(MOVES), len(cells)))
    rewards = np.zeros((len(cells), len(MOVES)))
    for cell, s in index.items():
        for a in range(len(MOVES)):
            if layout[cell[0]][cell[1]] == "G":
                transitions[s, a, s] = 1.0
                rewards[s, a] = 1.0
                continue
            for b, delta in enumerate(MOVES):
                p = slip / len(MOVES) + (1.0 - slip if a == b else 0.0)
                transitions[s, a, index[move(cell, delta)]] += p
    start = next(index[c] for c in cells if layout[c[0]][c[1]] == "S")
    return TabularMDP(transitions, rewards, discount), cells, start
# --8<-- [end:gridworld]


# --8<-- [start:solve]
def policies_over_alpha(mdp, alphas):
    """The optimal Boltzmann policy pi(a|s) = exp((Q*(s,a) - V*(s)) / alpha) for each alpha."""
    out = []
    for alpha in alphas:
        q = soft_q_iteration(mdp, alpha, tol=1e-10)  # Q*_soft, Theorem 3
        out.append(np.asarray(boltzmann_policy(q, alpha)))  # eq. (6); alpha = 0: argmax
    return np.stack(out)  # [len(alphas), S, A]


mdp, cells, start = gridworld()
alphas = np.concatenate([np.geomspace(3.0, 1e-3, 36), [0.0]])
pis = policies_over_alpha(mdp, alphas)
# --8<-- [end:solve]


# --8<-- [start:table]
def print_table(alphas, pis, start, every=5):
    """pi(a | start) and its entropy (nats) for every 5th temperature and for alpha = 0."""
    print(f"{'alpha':>8}  " + "  ".join(f"{a:>6}" for a in ACTIONS) + "  entropy")
    rows = list(range(0, len(alphas) - 1, every)) + [len(alphas) - 1]
    for k in rows:
        pi = pis[k, start]
        print(f"{alphas[k]:8.3g}  " + "  ".join(f"{p:6.3f}" for p in pi) + f"  {float(entropy(pi)) + 0.0:7.3f}")
# --8<-- [end:table]


# --8<-- [start:plot]
def plot(alphas, pis, cells, start, path, shown=(1.0, 0.1, 0.0)):
    """Top: pi(a | start) against alpha.  Bottom: the policy on the grid at three temperatures."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, len(shown), height_ratios=[1.1, 1.0])

    ax = fig.add_subplot(grid[0, :])
    positive = alphas > 0
    styles = ("-", "--", "-", ":")  # 'right' and 'left' coincide here (dashed over dotted)
    for a, name in enumerate(ACTIONS):
        line, = ax.plot(alphas[positive], pis[positive, start, a], styles[a], lw=2, label=name)
        # The alpha = 0 limit (the greedy policy), drawn just right of the smallest alpha.
        ax.plot([alphas[positive].min() * 0.6], [pis[~positive, start, a][0]], "o", color=line.get_color())
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel(r"temperature $\alpha$ (decreasing to the right; dots: $\alpha = 0$)")
    ax.set_ylabel(r"$\pi(a \mid S)$")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(title="action at S", loc="center left", fontsize=8)
    ax.set_title("The Boltzmann policy at the start state S as the temperature goes to 0", fontsize=10)

    rows = 1 + max(r for r, _ in cells)
    cols = 1 + max(c for _, c in cells)
    for j, alpha in enumerate(shown):
        k = int(np.argmin(np.abs(alphas - alpha)))
        axg = fig.add_subplot(grid[1, j])
        # Background: the entropy of pi(.|s) in nats (white = deterministic); walls dark.
        heat = np.full((rows, cols), np.nan)
        for s, (r, c) in enumerate(cells):
            heat[r, c] = float(entropy(pis[k, s]))
        image = axg.imshow(heat, cmap="Blues", vmin=0.0, vmax=np.log(len(ACTIONS)))
        image.cmap.set_bad("0.35")
        xs, ys, us, vs = [], [], [], []
        for s, (r, c) in enumerate(cells):
            label = LAYOUT[r][c]
            if label in "SG":
                axg.text(c - 0.42, r - 0.42, label, ha="left", va="top", fontsize=9, weight="bold", color="tab:red")
            if label == "G":
                continue
            for a, (dr, dc) in enumerate(MOVES):
                xs.append(c)
                ys.append(r)
                us.append(0.45 * pis[k, s, a] * dc)
                vs.append(0.45 * pis[k, s, a] * dr)
        axg.quiver(xs, ys, us, vs, angles="xy", scale_units="xy", scale=1.0, width=0.012, color="k")
        axg.set_xticks([])
        axg.set_yticks([])
        axg.set_title(rf"$\alpha = {alphas[k]:.3g}$" + ("  (greedy)" if alphas[k] == 0 else ""), fontsize=10)
    fig.colorbar(image, ax=axg, shrink=0.8, label=r"entropy of $\pi(\cdot \mid s)$ (nats)")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
# --8<-- [end:plot]


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/figures/alpha_limit.png"
    print_table(alphas, pis, start)
    print("figure:", plot(alphas, pis, cells, start, out))
