"""``python -m tasksctl.engine run ...``: the engine commands without the rest of the CLI."""

from tasksctl.cli.engine import app

if __name__ == "__main__":
    app(prog_name="tasksctl engine")
