"""The SQuAD v1.1 files the SQuAD tests read: the real ones when IR_FAIRSEQ_SHARED_DATA is set
(CI), else the project's own generated ones (``ir-fairseq synthetic-data`` writes them too), so
the end-to-end tests run on any machine. Tests that pin facts of the official files (their
sizes, checksum, particular answers) stay ``real_data`` only."""
import os
from dataclasses import dataclass

import pytest

from conftest import SHARED
from ir_fairseq import IRUserError
from ir_fairseq.perturb.wordnet import find_wordnet
from ir_fairseq.pretraining import synthetic


@dataclass(frozen=True)
class SquadFiles:
    folder: str
    train_name: str
    dev_name: str
    real: bool

    @property
    def train(self):
        return os.path.join(self.folder, self.train_name)

    @property
    def dev(self):
        return os.path.join(self.folder, self.dev_name)


@pytest.fixture(scope="module")
def squad_files(tmp_path_factory):
    if SHARED:
        return SquadFiles(os.path.join(SHARED, "squad"), "train-v1.1-44articles.json", "dev-v1.1.json", True)
    folder = tmp_path_factory.mktemp("synthetic_squad")
    synthetic.generate_squad(str(folder))
    return SquadFiles(str(folder), synthetic.SQUAD_FILES["train"], synthetic.SQUAD_FILES["dev"], False)


def wordnet_installed():
    try:
        find_wordnet()
        return True
    except IRUserError:
        return False


needs_wordnet = pytest.mark.skipif(not wordnet_installed(), reason="WordNet 3.0 not installed (apt-get install wordnet-base)")
