"""Write the reference arrays that `tests/test_reference.py` compares every later version with.

Run from the repository root, with two CPU devices as the test suite has them:

    python tests/reference/generate.py

The arrays were written by the code before the spine redesign (issue 14); rerun this only when a
change of the numbers is intended, and say why in the commit.
"""

import json
import platform
import sys
from pathlib import Path

import jax


jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from reference_configs import CONFIGS, fingerprint, run_reference  # noqa: E402


def main() -> None:
    for name, text in CONFIGS.items():
        arrays, summary = run_reference(text)
        import numpy as np

        np.savez(HERE / f"{name}.npz", **arrays)
        (HERE / f"{name}.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        print(name, sorted(arrays))
    (HERE / "fingerprint.json").write_text(json.dumps(fingerprint(), indent=1) + "\n")
    print(platform.processor())


if __name__ == "__main__":
    main()
