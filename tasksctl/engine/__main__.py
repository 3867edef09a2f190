"""``python -m tasksctl.engine run ...``: the engine on its own, without the CLI."""

import sys

from tasksctl.engine.main import main

if __name__ == "__main__":
    sys.exit(main())
