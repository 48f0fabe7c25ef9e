#!/usr/bin/env bash
# Fill .whl/ with the wheels that a device lease carries (`run` with carry [".whl"]; benchmarks/lease.sh installs
# them into /tmp/site there).  Run it here, on the CPU machine, once per fresh machine:
#   bash benchmarks/lease_wheels.sh [PYTHON]
# The device image (NVIDIA H200: Python 3.12, jax 0.11.2, equinox, optax, hypothesis, pytest, ...; its package list
# is the device tool's KINDS.md) lacks the packages below.  Each is downloaded at the version installed in PYTHON's
# environment (default: .venv/bin/python, the README's environment, then python3), so the device runs the versions
# that CI tests here; a package not installed there is an error.  Wheels only, for CPython 3.12 on manylinux x86_64,
# without their dependencies: every dependency the device lacks is in the list itself, and the check at the end
# says which declared requirement of a carried wheel is neither carried nor in the image's list.
# Size: 52 MiB in all (2026-12-01; gymnasium-robotics's maze assets are half of it); a lease carries at most 64 MiB,
# and the script says so if the wheels pass that.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# What the tests and the lease's benchmarks import that the device image does not hold.
CARRY="gymnasium farama-notifications gymnasium-robotics pettingzoo gymnax import-linter grimp mujoco mujoco-core mujoco-mjx
glfw pyopengl trimesh mutmut libcst setproctitle textual platformdirs mdit-py-plugins"
# Declared but not needed there: mujoco-studio (12 MiB; MuJoCo's viewer, which `import mujoco`, gymnasium's MuJoCo
# tasks and MJX do not load, checked with mujoco 4.0.0); carrying it would pass the 64 MiB limit.
NOT_NEEDED="mujoco-studio"
# The device image's packages that the carried wheels may require (from KINDS.md's list, 2026-11-17).
IMAGE="absl-py etils jax jaxlib numpy scipy cloudpickle typing-extensions flax chex matplotlib seaborn six
click rich pyyaml packaging filelock markdown-it-py mdurl pygments jinja2 imageio coverage pytest tomli
setuptools wheel zipp fsspec pillow scikit-image"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude 2>/dev/null || true
mkdir -p .whl
freeze="$("$PY" -m pip freeze 2>/dev/null)"
specs=()
for name in $CARRY; do
  line="$(printf '%s\n' "$freeze" | grep -i -E "^${name//-/[-_.]}==" || true)"
  if [ -z "$line" ]; then
    echo "lease_wheels.sh: $name is not installed in $PY's environment; install the project's test extra there first" >&2
    exit 2
  fi
  specs+=("$line")
done
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${specs[@]}"
# One version of each: two stop the whole install on the device.
dupes="$(ls .whl/*.whl | sed 's#.*/##; s/-[0-9].*//' | tr 'A-Z_' 'a-z-' | sort | uniq -d)"
if [ -n "$dupes" ]; then
  echo "lease_wheels.sh: .whl/ holds two versions of: $dupes; remove the older" >&2
  exit 2
fi
# Every requirement of a carried wheel that applies there (markers evaluated for CPython 3.12 on Linux, extras
# left out) is carried or in the image's list.
missing="$(CARRY="$CARRY" IMAGE="$IMAGE $NOT_NEEDED" "$PY" - <<'PYEOF'
import glob, os, re, zipfile
from packaging.requirements import Requirement
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {norm(n) for n in (os.environ["CARRY"] + " " + os.environ["IMAGE"]).split()}
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
out = []
for wheel in sorted(glob.glob(".whl/*.whl")):
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if (req.marker is None or req.marker.evaluate(env)) and norm(req.name) not in have:
                    out.append(f"{os.path.basename(wheel)}:{req.name}")
print(" ".join(out))
PYEOF
)"
kib="$(du -sk .whl | cut -f1)"
echo "lease_wheels.sh: .whl holds $(ls .whl/*.whl | wc -l) wheels, $((kib / 1024)) MiB"
if [ "$kib" -gt $((64 * 1024)) ]; then
  echo "lease_wheels.sh: more than the 64 MiB a lease carries; remove a wheel the lease's parts do not need" >&2
  exit 2
fi
if [ -n "$missing" ]; then
  echo "lease_wheels.sh: requirements neither carried nor in the image's list (check them there): $missing" >&2
fi
