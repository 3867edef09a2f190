"""Entry point for ``python -m tasksctl``."""

from tasksctl.cli.app import main

if __name__ == "__main__":
    main()
