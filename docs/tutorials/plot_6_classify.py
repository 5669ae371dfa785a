"""
6. Classifying sequences: digits read row by row
================================================

A recurrent network reads an image as a sequence: scikit-learn's 8 x 8 digits become 8
steps of 8 pixels, and the network's states, pooled over the steps, decide the class.
``rnnkit classify`` trains such a classifier and scores it beside classical references
fitted on the same training part.

Budget: 15 s of training (``--time-budget 15``) plus the references, at two threads.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from rnnkit.cli import main as rnnkit_cli

# %%
# One command
# -----------
# ``digits`` is a named set (scikit-learn's); the automatic recipe chooses the model from the
# number of sequences, their length and the budget, and says so in one line.

out = Path(tempfile.mkdtemp(prefix="rnnkit-digits-"))
status = rnnkit_cli(
    ["classify", "digits", "--time-budget", "15", "--threads", "2", "--quiet", "--out", str(out)]
)

# %%
# What the run folder says
# ------------------------

metrics = json.loads((out / "metrics.json").read_text())
config = json.loads((out / "config.json").read_text())
print(config["recipe_note"])
print(
    f"test accuracy {metrics['test']['accuracy']:.3f}, macro F1 {metrics['test']['macro_f1']:.3f}"
)
for name, ref in metrics["references"].items():
    print(f"reference {name}: accuracy {ref['accuracy']:.3f}")

# %%
# The confusion matrix the run drew:

fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(plt.imread(out / "confusion.png"))
ax.set_axis_off()
fig.tight_layout()

# %%
# The same from Python is ``rnnkit.SequenceClassifier(time_budget=15).fit(items, labels)``;
# first names by gender (``rnnkit classify first-names``) and any CSV, ``.ts`` file or folder
# work the same way. Three-seed results on seven sets are in the
# :doc:`classification guide </guide/classification>`.
