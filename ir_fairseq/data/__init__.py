"""Data: checks of binarized files (``indexed_files``, also the ``check-data`` command),
length grouping, and two BPEs registered with fairseq: dictionary word starts
(``--mask-whole-words``) and WordPiece. ``ir_fairseq.register`` imports those two; this package
imports nothing itself, so that ``ir-fairseq check-data --help`` starts without fairseq."""
