"""``sentence_prediction_ir``: fairseq's ``sentence_prediction`` (GLUE fine-tuning) with
length-grouped batches, checked binarized data and the plugin's run guards.

fairseq's task orders the examples by a random shuffle only, so each batch is padded to its
longest pair; ``--group-by-length`` sorts by length first (``data/length_grouping.py``). Every
other behaviour, option and checkpoint field is fairseq's: a checkpoint of this task loads as
a ``sentence_prediction`` one does.
"""
import os
from dataclasses import dataclass, field

from fairseq.tasks import register_task
from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask

from ir_fairseq.data.indexed_files import check_indexed_split
from ir_fairseq.data.length_grouping import example_sizes, group_by_length
from ir_fairseq.tasks.run_guards import GuardedTraining, RunGuardsConfig


@dataclass
class SentencePredictionIRConfig(SentencePredictionConfig, RunGuardsConfig):
    group_by_length: bool = field(
        default=False,
        metadata={"help": "form batches from length-sorted examples and let fairseq shuffle the "
                  "batches every epoch (far less padding than a random order)"},
    )


@register_task("sentence_prediction_ir", dataclass=SentencePredictionIRConfig)
class SentencePredictionIRTask(GuardedTraining, SentencePredictionTask):
    cfg: SentencePredictionIRConfig

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        cls.start_guards(cfg)
        return super().setup_task(cfg, **kwargs)

    def load_dataset(self, split, combine=False, **kwargs):
        for name, dictionary in (("input0", self.source_dictionary), ("input1", self.source_dictionary),
                                 ("label", None if self.cfg.regression_target else self.label_dictionary)):
            folder = os.path.join(self.cfg.data, name)
            check_indexed_split(os.path.join(folder, split), dictionary and len(dictionary),
                                os.path.join(folder, "dict.txt"))
        dataset = super().load_dataset(split, combine=combine, **kwargs)
        if self.cfg.group_by_length and not self.cfg.no_shuffle:
            dataset = group_by_length(dataset, example_sizes(dataset))
            self.datasets[split] = dataset
        return dataset
