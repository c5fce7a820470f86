"""Defaults and names the command line needs before anything else: constants only, so
``gradcheck --version`` and ``--help`` import nothing heavier than click."""

DEFAULT_SAMPLES = 2048
DEFAULT_RANGE = (-8.0, 8.0)
DEFAULT_SEED = 0
DEFAULT_TIMEOUT = 60.0
# --order: 1 checks first derivatives; 2 also second derivatives (verify/second_order.py).
DEFAULT_ORDER = 1
ORDERS = (1, 2)
FORMATS = ("text", "json", "junit", "github")
# The fields of settings.Settings (checked there at import), accepted by @gradcheck.options.
OPTION_NAMES = ("samples", "range", "seed", "timeout", "rtol", "atol", "kinks", "skip", "stability", "order")
# [tool.gradcheck] files: folder targets and hook mode import only files whose path matches
# one of these globs (or that hold a marker); see gradcheck/scan.py.
DEFAULT_FILES = ("*activation*",)
