"""`python -m sie.demo`: how `sie demo` starts its clean child process."""

import sys

from sie.demo.run import main

sys.exit(main(sys.argv[1:]))
