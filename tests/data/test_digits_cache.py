"""The digits split is read from a cache after the first time, without scikit-learn."""

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys
from anyconv.data.digits import digit_arrays
arrays = digit_arrays()
print("sklearn" in sys.modules, sum(float(a.sum()) for a in arrays))
"""


def test_the_second_load_needs_no_sklearn_and_gives_the_same_split(tmp_path):
    env = {**os.environ, "ANYCONV_CACHE": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    (first_sklearn, first_sum), (second_sklearn, second_sum) = (r.stdout.split() for r in runs)
    assert first_sklearn == "True" and second_sklearn == "False" and first_sum == second_sum
    (cache,) = tmp_path.glob("digits-split-*.npz")
    cache.write_bytes(b"damaged")  # a bad cache is rebuilt, never trusted
    again = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True)
    assert again.stdout.split() == ["True", first_sum]
    with np.load(cache) as saved:
        assert saved["x_train"].shape == (1437, 1, 8, 8)
