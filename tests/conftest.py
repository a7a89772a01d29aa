"""Test configuration: under CI (CI=true), hypothesis draws the same examples every run, so a
submission's result does not depend on the luck of the draw; locally it explores new ones."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
