"""softq_ref.backend: the unrolled threefry lowering on a CPU draws the very bits JAX's own lowering draws."""

import hashlib
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import softq_ref  # noqa: F401  (importing the package puts the unrolled lowering in force)
from softq_ref import backend

DRAWS = textwrap.dedent("""
    import hashlib, jax, numpy as np
    key = jax.random.PRNGKey(7)
    k1, k2, k3 = jax.random.split(key, 3)
    parts = [jax.random.normal(k1, (128, 8, 6)), jax.random.uniform(k2, (16, 6), minval=-1.0, maxval=1.0),
             jax.random.key_data(jax.random.split(k3, 5)), jax.random.bits(k3, (33,))]
    print(hashlib.sha256(b"".join(np.asarray(p).tobytes() for p in parts)).hexdigest())
    text = jax.jit(lambda k: jax.random.normal(k, (64,))).lower(key).compile().as_text()
    print("while" in text)
""")


def _run(rolled: bool) -> tuple[str, bool]:
    env = dict(os.environ, SOFTQ_REF_ROLLED_THREEFRY="1" if rolled else "0", JAX_PLATFORMS="cpu")
    code = "import softq_ref\n" + DRAWS
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    digest, has_while = done.stdout.split()
    return digest, has_while == "True"


@pytest.mark.skipif("jax.default_backend() != 'cpu'", reason="the choice concerns the CPU lowering only")
@pytest.mark.skipif(tuple(jax.__version_info__[:2]) >= backend.UNROLL_BEFORE,
                    reason="the unrolled lowering is not used on this JAX (see softq_ref.backend)")
def test_unrolled_threefry_draws_the_bits_of_jax_own_cpu_lowering():
    assert backend.unroll_threefry_on_cpu()
    unrolled, unrolled_has_while = _run(rolled=False)
    rolled, rolled_has_while = _run(rolled=True)
    assert unrolled == rolled
    # Must-fail twin of the lowering check: JAX's own CPU lowering is a while loop, ours is not.
    assert rolled_has_while and not unrolled_has_while


def test_the_digest_tells_other_bits_apart():
    # Must-fail twin of the comparison above: one other key gives another digest.
    def digest(seed):
        x = jax.random.normal(jax.random.PRNGKey(seed), (128, 8, 6))
        return hashlib.sha256(np.asarray(x).tobytes()).hexdigest()

    assert digest(7) == digest(7) and digest(7) != digest(8)


def test_the_unrolled_lowering_is_not_used_from_jax_0_11(monkeypatch):
    # On jax 0.11.2 it made SAC's host step compile for more than 15 minutes (softq_ref.backend).
    monkeypatch.setattr(jax, "__version_info__", (0, 11, 2))
    assert backend.unroll_threefry_on_cpu.__wrapped__() is False
    monkeypatch.setattr(jax, "__version_info__", (0, 10, 2))
    monkeypatch.setenv("SOFTQ_REF_ROLLED_THREEFRY", "1")
    assert backend.unroll_threefry_on_cpu.__wrapped__() is False
