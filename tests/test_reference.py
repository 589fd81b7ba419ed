"""Every reference config gives the numbers stored before the spine redesign (issue 14).

On the machine and JAX build that wrote them (`tests/reference/fingerprint.json`), simulations must be
bit-identical and theories equal to 1e-9 relative. Elsewhere float32 rounding differs in the last
place, so simulations are compared to 1e-3 and theories to 1e-5 relative (they start from the
simulation's float32 networks).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from reference_configs import CONFIGS, fingerprint, run_reference


REFERENCE = Path(__file__).parent / "reference"
SAME_MACHINE = json.loads((REFERENCE / "fingerprint.json").read_text()) == fingerprint()


def _is_theory(name: str) -> bool:
    return "theory" in name or name.startswith(("critical_learning_rate", "eps_g_asymptote", "eps_g_stationary"))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_reference(name):
    arrays, summary = run_reference(CONFIGS[name])
    stored = np.load(REFERENCE / f"{name}.npz")
    assert sorted(arrays) == sorted(stored.files)
    for key in stored.files:
        got, want = np.asarray(arrays[key]), stored[key]
        assert got.shape == want.shape and got.dtype == want.dtype, key
        if SAME_MACHINE and not _is_theory(key):
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            rtol = (1e-9 if SAME_MACHINE else 1e-5) if _is_theory(key) else 1e-3
            np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True, err_msg=key)
    want_summary = json.loads((REFERENCE / f"{name}.json").read_text())
    assert summary.keys() == want_summary.keys()
    for key, value in want_summary.items():
        if isinstance(value, list) and value and isinstance(value[0], float):
            np.testing.assert_allclose(summary[key], value, rtol=1e-3 if "theory" not in key else 1e-5, err_msg=key)
        else:
            assert summary[key] == value, key
