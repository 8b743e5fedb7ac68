"""GLUE fine-tuning: the tasks and their facts (``tasks``), the official TSV files
(``files``), the paper's metrics (``metrics``), tokenising a task for fairseq's
``sentence_prediction`` (``prepare``), predictions and submission files of a fine-tuned
checkpoint (``predict``) and the Table-1 report (``report``)."""
from ir_fairseq.glue.tasks import TASKS, GlueTask, get_task, main_score  # noqa: F401
