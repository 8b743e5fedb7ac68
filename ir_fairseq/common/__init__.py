"""Shared services used by the plugin and by every downstream package: user errors and the
command-line entry point, checkpoints (read once), model folders (dictionary + tokenizer),
fairseq's JSON logs, tables, seed comparisons and atomic file writes. Nothing here imports
the plugin's tasks, criterions or downstream packages."""
