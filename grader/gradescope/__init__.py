"""``optigrade gradescope``: the autograder zip Gradescope's "Zip file upload" takes, and what runs in it.

* ``package`` builds the zip: ``setup.sh`` (a venv with a CPU torch and optigrade from the wheel inside
  the zip), ``run_autograder``, the wheel, the rubric and ``optigrade-autograder.json`` (settings).
* ``autograde`` is what ``run_autograder`` runs in the container: make the reference root-only, check
  which isolation layers exist, grade ``/autograder/submission`` with ``grade_class`` and write
  ``/autograder/results/results.json`` once every worker is gone.
* ``harden`` makes and checks the file permissions that keep student code out when Landlock is missing.
* ``results`` turns a graded ``results.json`` into the one Gradescope shows, and checks it.
"""

CONFIG_NAME = "optigrade-autograder.json"
HIDDEN_VISIBILITIES = ("after_published", "after_due_date", "hidden")
