"""preprocess_glue.sh -> finetune_glue.sh -> dev metrics, predictions, submission -> report;
training-row caps (seeded subsets, bins redone for another cap) and the one-line errors."""
import json
import os
import shutil
import subprocess

import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, matthews_corrcoef

from conftest import ROOT, SHARED, copy_of, folder_digest, python, real_data, run_script, run_tool
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.experiments import finetune_glue
from ir_fairseq.glue.files import read_split
from ir_fairseq.glue.prepare import binarize, is_complete, mark_complete, prepare
from ir_fairseq.glue.tasks import get_task


@pytest.fixture(scope="module")
def generated_glue(corpus):
    """The project's own review task, written by the generator in GLUE's SST-2 layout."""
    return corpus["raw"] / "glue"


def check_outputs(glue_dir, task_name, save_dir, submission):
    task = get_task(task_name)
    metrics = json.loads((save_dir / "dev_metrics.json").read_text())
    assert set(metrics) == set(task.metrics)
    dev = read_split(str(glue_dir), task, "dev")
    rows = [line.split("\t") for line in (save_dir / "dev_predictions.tsv").read_text().splitlines()]
    assert rows[0] == ["index", "prediction", "label", "split"] and len(rows) - 1 == len(dev)
    assert [r[2] for r in rows[1:]] == [e.label for e in dev]
    assert [r[0] for r in rows[1:]] == [e.index for e in dev]
    # the reported metrics are scikit-learn/scipy on the written predictions
    predicted, gold = [r[1] for r in rows[1:]], [r[2] for r in rows[1:]]
    recomputed = {}
    if task.is_regression:
        recomputed["pearson"] = 100 * pearsonr([float(p) for p in predicted], [float(g) for g in gold])[0]
        recomputed["spearman"] = 100 * spearmanr([float(p) for p in predicted], [float(g) for g in gold])[0]
    elif "mcc" in task.metrics:
        recomputed["mcc"] = 100 * matthews_corrcoef(gold, predicted)
    else:
        recomputed["accuracy"] = 100 * accuracy_score(gold, predicted)
    for name, value in recomputed.items():
        if value == value:  # a constant prediction makes correlations NaN
            assert metrics[name] == pytest.approx(value, abs=1e-9), name
    test = read_split(str(glue_dir), task, "test")
    lines = (save_dir / "submission" / submission).read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) - 1 == len(test)
    assert [line.split("\t")[0] for line in lines[1:]] == [e.index for e in test]
    predictions = [line.split("\t")[1] for line in lines[1:]]
    if task.is_regression:
        assert all(0.0 <= float(p) <= 5.0 for p in predictions)
    else:
        assert set(predictions) <= set(task.labels)
    return metrics


def test_generated_task_end_to_end_with_report(generated_glue, model_dir, sst2_bin, tmp_path):
    """sst2_bin is preprocess_glue.sh's output; here finetune_glue.sh, glue-report, glue-predict."""
    save_dir = tmp_path / "results" / "tiny" / "SST-2"
    proc = run_script("finetune_glue.sh", "SST-2", model_dir / "ck" / "checkpoint_last.pt", sst2_bin,
                      save_dir, "--max-update", "4", "--data-buffer-size", "0")
    assert "GROUP_BY_LENGTH=1" in proc.stdout.splitlines()[0]  # the recipe's default
    log = (save_dir / "train.log").read_text()
    assert "'_name': 'sentence_prediction_ir'" in log and "'group_by_length': True" in log
    metrics = check_outputs(generated_glue, "SST-2", save_dir, "SST-2.tsv")
    assert 0.0 <= metrics["accuracy"] <= 100.0
    report = run_tool("glue-report", [tmp_path / "results"])
    assert report.stdout.splitlines()[0] == "| Model | SST-2 (Acc) | Average |"
    assert f"| tiny | {metrics['accuracy']:.2f} | {metrics['accuracy']:.2f} |" in report.stdout
    assert (tmp_path / "results" / "glue_results.csv").read_text().splitlines() == [
        "Model,SST-2 (Acc),Average", f"tiny,{metrics['accuracy']:.2f},{metrics['accuracy']:.2f}"]
    # the fine-tuned checkpoint is what glue-predict takes; the pre-trained one is refused
    proc = run_tool("glue-predict", [model_dir / "ck" / "checkpoint_last.pt", "SST-2", sst2_bin,
                                     tmp_path / "wrong"], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "was trained with task 'masked_lm_ir', not sentence_prediction" in proc.stderr


def test_sweep_keeps_only_the_best_dev_checkpoint(model_dir, sst2_bin, tmp_path):
    save_dir = tmp_path / "sweep"
    run_script("finetune_glue.sh", "SST-2", model_dir / "ck" / "checkpoint_last.pt", sst2_bin, save_dir,
               "--max-update", "2", "--data-buffer-size", "0",
               SWEEP="1", LRS="1e-5 3e-5 5e-5", BATCHES="16", EPOCHS_LIST="1", SEEDS="1")
    sweep = (save_dir / "sweep.tsv").read_text().splitlines()
    assert len(sweep) == 1 + 3
    assert sorted(p.name for p in save_dir.rglob("*.pt")) == ["checkpoint_best.pt"]
    best = max(float(line.split("\t")[4]) for line in sweep[1:])
    assert json.loads((save_dir / "dev_metrics.json").read_text())["accuracy"] == pytest.approx(best)


@real_data
@pytest.mark.parametrize("task_name", ["RTE", "CoLA", "STS-B"])
def test_real_task_end_to_end(model_dir, tmp_path, task_name):
    glue_dir = os.path.join(SHARED, "glue")
    out = tmp_path / "data"
    run_script("preprocess_glue.sh", glue_dir, task_name, model_dir, out)
    save_dir = tmp_path / task_name
    run_script("finetune_glue.sh", task_name, model_dir / "ck" / "checkpoint_last.pt",
               out / f"{task_name}-bin", save_dir, "--max-update", "3", "--data-buffer-size", "0")
    check_outputs(glue_dir, task_name, save_dir, f"{task_name}.tsv")


@real_data
def test_real_files_preprocess_to_the_right_rows_for_every_task(model_dir, tmp_path):
    glue_dir = os.path.join(SHARED, "glue")
    expected = {"CoLA": (8551, 1043, 1063), "SST-2": (67349, 872, 1821), "MRPC": (3668, 408, 1725),
                "STS-B": (5749, 1500, 1379), "RTE": (2490, 277, 3000), "WNLI": (635, 71, 146)}
    for task_name, sizes in expected.items():
        rows = prepare(glue_dir, task_name, str(model_dir), str(tmp_path / task_name))
        assert [r[2] for r in rows] == list(sizes)
        raw = tmp_path / task_name / "raw"
        pair = get_task(task_name).is_pair
        assert (raw / "train.input1").exists() == pair
        assert len((raw / "valid.label").read_text().splitlines()) == sizes[1]
        assert not (raw / "test.label").exists()


def test_bad_tsv_is_a_one_line_error_from_the_script(model_dir, tmp_path):
    (tmp_path / "glue" / "RTE").mkdir(parents=True)
    (tmp_path / "glue" / "RTE" / "train.tsv").write_text(
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    proc = run_script("preprocess_glue.sh", tmp_path / "glue", "RTE", model_dir, tmp_path / "out", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ir_fairseq: error: {tmp_path}/glue/RTE/train.tsv:2: unknown label 'maybe' for RTE "
        "(expected one of entailment, not_entailment)")


def test_report_of_an_empty_folder_is_a_one_line_error(tmp_path):
    proc = run_tool("glue-report", [tmp_path], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"ir_fairseq: error: no <model>/<TASK>/dev_metrics.json under {tmp_path}"


def test_glue_training_rows_are_subsampled_reproducibly(generated_glue, model_dir, tmp_path):
    glue = str(generated_glue)
    full = dict((r[0], r[2]) for r in prepare(glue, "SST-2", str(model_dir), str(tmp_path / "full")))
    first = dict((r[0], r[2]) for r in prepare(glue, "SST-2", str(model_dir), str(tmp_path / "a"), 10))
    prepare(glue, "SST-2", str(model_dir), str(tmp_path / "b"), 10)
    assert first["train"] == 10 and first["valid"] == full["valid"] and full["train"] > 10
    read = lambda d: (tmp_path / d / "raw" / "train.input0").read_text()  # noqa: E731
    assert read("a") == read("b")
    assert set(read("a").splitlines()) <= set(read("full").splitlines())
    assert read("a") != read("full")


def binarised_train_rows(task_bin):
    from fairseq.data import data_utils

    return len(data_utils.load_indexed_dataset(os.path.join(task_bin, "input0", "train")))


def test_a_bin_made_for_another_row_cap_is_redone(generated_glue, model_dir, tmp_path):
    task_bin = str(tmp_path / "SST-2-bin")
    assert not is_complete(task_bin, 10)  # nothing there yet
    run_script("preprocess_glue.sh", generated_glue, "SST-2", model_dir, tmp_path, MAX_TRAIN_ROWS="10")
    assert binarised_train_rows(task_bin) == 10
    assert is_complete(task_bin, 10)  # a second run for this cap can be skipped
    assert not is_complete(task_bin, 20) and not is_complete(task_bin, None)
    run_script("preprocess_glue.sh", generated_glue, "SST-2", model_dir, tmp_path, MAX_TRAIN_ROWS="20")
    assert binarised_train_rows(task_bin) == 20
    assert is_complete(task_bin, 20) and not is_complete(task_bin, 10)
    # a run for a new cap that stops after tokenising leaves a bin complete for no cap, and
    # the previous cap's binarised files cannot be passed off as this one's
    prepare(str(generated_glue), "SST-2", str(model_dir), task_bin, 30)
    assert not is_complete(task_bin, 30) and not is_complete(task_bin, 20)
    with pytest.raises(IRUserError) as refused:
        mark_complete(task_bin)
    assert str(refused.value) == f"{task_bin} is not binarised: {task_bin}/input0/train.idx is missing"
    assert not is_complete(task_bin, 30)
    with pytest.raises(IRUserError, match="has no prepare.json"):
        mark_complete(str(tmp_path / "nowhere"))
    run_script("preprocess_glue.sh", generated_glue, "SST-2", model_dir, tmp_path, MAX_TRAIN_ROWS="30")
    assert is_complete(task_bin, 30) and binarised_train_rows(task_bin) == 30


def test_a_cached_finetuning_is_redone_when_its_bin_is_remade_with_other_rows(generated_glue, model_dir, tmp_path):
    """The reproductions' fine-tuning cache: the bin keeps its path when re-made for another row cap,
    so the cached score of the old rows must not be reused for the new ones."""
    checkpoint, task_bin, save_dir = model_dir / "ck" / "checkpoint_last.pt", tmp_path / "SST-2-bin", tmp_path / "ft"
    finetune = lambda: finetune_glue("SST-2", checkpoint, task_bin, save_dir, 1e-4, 8, 1)  # noqa: E731
    cached_data = lambda: json.loads((save_dir / "finetune_settings.json").read_text())["task_data"]  # noqa: E731
    run_script("preprocess_glue.sh", generated_glue, "SST-2", model_dir, tmp_path, MAX_TRAIN_ROWS="24")
    metrics = finetune()
    first_run, first_data = os.stat(metrics).st_mtime_ns, cached_data()
    assert finetune() == metrics and os.stat(metrics).st_mtime_ns == first_run  # same settings, same data: cached
    run_script("preprocess_glue.sh", generated_glue, "SST-2", model_dir, tmp_path, MAX_TRAIN_ROWS="40")
    assert binarised_train_rows(str(task_bin)) == 40
    assert finetune() == metrics and os.stat(metrics).st_mtime_ns != first_run
    assert cached_data() != first_data
    assert (save_dir / "finetune.log").read_text().count("[finetune_glue] TASK=SST-2") == 2


def copy_task(generated_glue, tmp_path):
    glue = tmp_path / "glue"
    shutil.copytree(generated_glue / "SST-2", glue / "SST-2")
    return glue, glue / "SST-2"


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "dev.tsv").write_text(""), "{f}/dev.tsv is empty"),
    (lambda f: (f / "dev.tsv").write_text("sentence\tlabel\n"), "{f}/dev.tsv has no rows after its header"),
    (lambda f: (f / "dev.tsv").write_text((f / "dev.tsv").read_text()[:-5]), "{f}/dev.tsv:{last}: expected 2 tab-separated"),
    (lambda f: (f / "dev.tsv").write_text("text\tlabel\nfine\t1\n"), "{f}/dev.tsv: no column 'sentence' in its header"),
    (lambda f: os.remove(f / "dev.tsv"), "GLUE file not found: {f}/dev.tsv"),
])
def test_damaged_tsv_is_named_before_a_previous_preparation_is_touched(
        generated_glue, model_dir, sst2_bin, tmp_path, damage, message):
    glue, folder = copy_task(generated_glue, tmp_path)
    out = tmp_path / "bin"
    copy_of(sst2_bin, out / "SST-2-bin")  # a finished preparation of these files
    before = folder_digest(out)
    last = len((folder / "dev.tsv").read_text().splitlines())
    damage(folder)
    proc = run_script("preprocess_glue.sh", glue, "SST-2", model_dir, out, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "ir_fairseq: error: " + message.format(f=folder, last=last)), proc.stderr[-2000:]
    assert folder_digest(out) == before  # the finished preparation is still whole


def test_windows_line_endings_give_the_same_rows(generated_glue, model_dir, tmp_path):
    glue, folder = copy_task(generated_glue, tmp_path)

    def prepare_and_binarize(out):
        prepare(str(glue), "SST-2", str(model_dir), str(out))
        binarize(str(out), str(model_dir / "dict.txt"))

    prepare_and_binarize(tmp_path / "unix")
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        text = (folder / name).read_bytes()
        (folder / name).write_bytes(text.replace(b"\n", b"\r\n"))
    prepare_and_binarize(tmp_path / "windows")
    def data(folder):  # the logs name their own folder
        return {name: content for name, content in folder_digest(folder).items() if not name.endswith(".log")}

    assert data(tmp_path / "windows") == data(tmp_path / "unix")


def test_damaged_binarized_task_stops_finetuning_before_it_starts(model_dir, sst2_bin, tmp_path):
    task_bin = copy_of(sst2_bin, tmp_path / "SST-2-bin")
    damaged = task_bin / "input0" / "valid.bin"
    with open(damaged, "r+b") as f:
        f.truncate(os.path.getsize(damaged) // 2)
    proc = run_script("finetune_glue.sh", "SST-2", model_dir / "ck" / "checkpoint_last.pt", task_bin,
                      tmp_path / "ft", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(f"ir_fairseq: error: {damaged} is "), proc.stderr[-2000:]
    written = folder_digest(tmp_path / "ft") if (tmp_path / "ft").exists() else {}
    assert not [name for name in written if name.endswith(".pt")]


def train_batches(task_bin, grouped, task="sentence_prediction_ir", epochs=2):
    """The ids of every training batch of the first epochs, as fairseq's iterator yields them."""
    from fairseq import options, tasks

    from ir_fairseq.data.length_grouping import example_sizes
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), [
        str(task_bin), "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", task,
        "--criterion", "sentence_prediction", "--arch", "roberta_base", "--num-classes", "2", "--seed", "1",
        *(["--group-by-length"] if grouped else [])])
    fairseq_task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    fairseq_task.load_dataset("train")
    dataset = fairseq_task.dataset("train")
    iterator = fairseq_task.get_batch_iterator(dataset, max_sentences=8, seed=1)
    per_epoch = [[sample["id"].tolist() for sample in iterator.next_epoch_itr(shuffle=True)] for _ in range(epochs)]
    return example_sizes(dataset), per_epoch


def test_length_grouped_batches_cover_every_example_with_less_padding(sst2_bin):
    from ir_fairseq.data.length_grouping import real_token_fraction

    task_bin = sst2_bin
    sizes, (first, second) = train_batches(task_bin, grouped=True)
    shuffled_sizes, (shuffled, _) = train_batches(task_bin, grouped=False)
    _, (fairseq_own, _) = train_batches(task_bin, grouped=False, task="sentence_prediction")
    assert shuffled == fairseq_own  # without the flag the task is fairseq's, batch for batch
    for batches in (first, second, shuffled):
        assert sorted(i for b in batches for i in b) == list(range(len(sizes)))
    grouped_fraction, shuffled_fraction = real_token_fraction(sizes, first), real_token_fraction(shuffled_sizes, shuffled)
    assert grouped_fraction > 0.95 and grouped_fraction > shuffled_fraction + 0.05, (grouped_fraction, shuffled_fraction)
    # the same length-sorted batches, in another random order every epoch
    assert sorted(map(sorted, first)) == sorted(map(sorted, second)) and first != second
    assert [max(sizes[b]) for b in first] != sorted(max(sizes[b]) for b in first)


def test_recipe_shuffles_batches_when_told_not_to_group_them(model_dir, sst2_bin, tmp_path):
    """GROUP_BY_LENGTH=0 (the default, 1, is checked end to end above); SUBMISSION=0: dev only."""
    save_dir = tmp_path / "ft"
    proc = run_script("finetune_glue.sh", "SST-2", model_dir / "ck" / "checkpoint_last.pt",
                      sst2_bin, save_dir, "--max-update", "2", "--data-buffer-size", "0",
                      SUBMISSION="0", GROUP_BY_LENGTH="0")
    assert "GROUP_BY_LENGTH=0" in proc.stdout.splitlines()[0]
    log = (save_dir / "train.log").read_text()
    assert "'_name': 'sentence_prediction_ir'" in log and "'group_by_length': False" in log
    assert (save_dir / "dev_metrics.json").is_file() and not (save_dir / "submission").exists()


def test_grouping_benchmark_prints_both_orders_on_generated_pairs(model_dir, tmp_path):
    proc = subprocess.run(
        [python(), os.path.join(ROOT, "examples", "benchmark_grouping.py"),
         str(model_dir / "ck" / "checkpoint_last.pt"), str(model_dir), "--glue", str(tmp_path / "no-glue"),
         "--tasks", "RTE", "--generated-rows", "48", "--batch-size", "8", "--work-dir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in proc.stdout.splitlines() if line.startswith("| RTE")]
    assert [(r[0], r[1]) for r in rows] == [("RTE (generated)", "shuffled"), ("RTE (generated)", "grouped")]
    shuffled, grouped = (float(r[2]) for r in rows)
    assert 0 < shuffled < grouped <= 100  # random lengths of 3-60 words: grouping removes padding
    assert rows[0][5] == "1.00×" and float(rows[1][5].rstrip("×")) > 0
    for row in rows:
        assert float(row[3]) > 0 and float(row[4]) > 0 and row[6].endswith("(1 seed(s))")
