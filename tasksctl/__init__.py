"""tasksctl: a gcloud-style CLI for Google Cloud Tasks, with a local Cloud Tasks engine."""

__version__ = "0.1.0"
