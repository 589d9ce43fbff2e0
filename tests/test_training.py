"""Training: data groups, a short real run whose loss falls, saving with a card, and loading it back."""

import json

import pytest

from explorer.errors import ModelLoadError
from explorer.inference.device import inference_context
from explorer.models.packaged import TRAINED_RERANKER, build_packaged_reranker
from explorer.models.resolution import load_reranker
from explorer.models.trained import DEFAULT_RERANKER_DIR, read_card, save_reranker
from explorer.pipeline import RetrievalPipeline
from explorer.retrieval.fusion import blend_scores, z_scores
from explorer.settings import DEFAULT_RERANKER, Settings
from explorer.training.data import labelled_groups, pseudo_query_groups
from explorer.training.evaluation import best_blend
from explorer.training.trainer import TrainSettings
from tests.conftest import training_device

TRAINING = training_device()


@pytest.fixture(scope="module")
def base_pipeline(sample, bi_encoder, embedding_cache):
    return RetrievalPipeline.build(sample, bi_encoder, None, embedding_cache)


def test_labelled_groups_use_near_misses_and_mined_negatives(sample, base_pipeline):
    groups = labelled_groups(sample, "train", base_pipeline, negatives=7)
    assert len(groups) >= len(sample.qrels_by_split["train"])
    first_query = next(q for q in sample.qrels_by_split["train"])
    labels = sample.labels_for(first_query)
    group = next(g for g in groups if g.query == sample.queries[first_query].text)
    best = [d for d, g in labels.items() if g == 3]
    assert group.positive in {sample.document(d).full_text for d in best}
    near = {sample.document(d).full_text for d, g in labels.items() if g <= 1}
    assert len(group.negatives) == 7 and near & set(group.negatives)
    assert group.positive not in group.negatives


@pytest.mark.parametrize("kind", ["title", "sentence"])
def test_pseudo_queries_come_from_the_corpus(sample, base_pipeline, kind):
    groups = pseudo_query_groups(sample, base_pipeline, kind, limit=5)
    assert len(groups) == 5 and all(g.source == kind for g in groups)
    for group in groups:
        assert group.query not in group.positive  # the title or sentence is taken out of the positive
        assert len(group.negatives) == 7


def test_z_blend_by_hand():
    assert z_scores([1.0, 2.0, 3.0]) == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)
    assert blend_scores([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], 0.5) == pytest.approx([0.0, 0.0, 0.0])
    assert blend_scores([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], 1.0) == pytest.approx(z_scores([1.0, 2.0, 3.0]))
    assert best_blend({"reranked": 0.7, "blend 0.5": 0.8, "blend 0.3": 0.8}) == 0.5


def test_the_page_note_says_when_a_trained_reranker_hurts():
    from explorer.models.trained import held_out_verdict

    card = {"held_out_ndcg@10": {"first stage": 0.77, "reranked": 0.715, "blend 0.5": 0.845},
            "recommended_blend": 0.5, "held_out": "sample test"}
    text = held_out_verdict(card)
    assert "reranker alone 0.715 (it ranks WORSE than the first stage by itself)" in text
    assert "weight 0.5: 0.845 (better than the first stage)" in text
    card["held_out_ndcg@10"]["blend 0.5"] = 0.70
    assert "(not better than the first stage)" in held_out_verdict(card)
    assert held_out_verdict({}) == "It has no held-out measurement."


def test_blended_search_reorders_by_the_blend(base_pipeline, reranker):
    pipeline = base_pipeline.with_reranker(reranker)
    alone = pipeline.search("how do I roll back a deploy", depth=20)
    first_only = pipeline.search("how do I roll back a deploy", depth=20, blend=0.0)
    assert all(h.fused_score is None for h in alone.reranked)
    assert [h.doc_id for h in first_only.reranked] == [h.doc_id for h in first_only.first_stage]


def test_a_short_real_training_run_lowers_the_loss(short_run):
    losses = short_run.losses
    assert short_run.steps_done == 18 and len(losses) == 18
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4


def test_saved_model_has_a_card_and_is_resolved_as_the_default(short_run, tmp_path, cpu):
    settings = Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models")
    folder = save_reranker(short_run.model, settings.models_dir / DEFAULT_RERANKER_DIR,
                           {"trained_on": "six sample groups", "steps": 18, "recommended_blend": 0.5,
                            "held_out_ndcg@10": {"first stage": 0.7, "reranked": 0.6}})
    assert read_card(folder)["steps"] == 18
    assert "Trained by the relevance explorer" in (folder / "README.md").read_text()
    loaded = load_reranker(DEFAULT_RERANKER, cpu, settings)
    assert loaded.info.source == "trained here" and loaded.info.trained_for_relevance
    assert loaded.info.recommended_blend == 0.5 and "six sample groups" in loaded.info.note
    by_name = load_reranker(TRAINED_RERANKER, cpu, settings)
    pairs = [("roll back a deploy", "Run shipyard rollback to the previous release.")]
    assert by_name.model.predict(pairs)[0] == pytest.approx(short_run.model.predict(pairs)[0], abs=1e-3)
    from_folder = load_reranker(str(folder), cpu, settings)
    assert from_folder.info.source == "trained here"


def test_weights_saved_without_their_card_are_not_taken_for_a_built_default(short_run, tmp_path):
    from explorer.models.trained import save_weights, write_card
    from explorer.training.default_model import default_reranker_exists

    settings = Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models")
    # a build stopped while it measures: the weights are there, the card not yet, so the set-up builds again
    folder = save_weights(short_run.model, settings.models_dir / DEFAULT_RERANKER_DIR)
    assert (folder / "model.safetensors").is_file() and not default_reranker_exists(settings)
    write_card(folder, {"steps": 18, "held_out_ndcg@10": {"first stage": 0.7}})
    assert default_reranker_exists(settings) and read_card(folder)["steps"] == 18
    # saving again (a rebuild) takes the old card away until the new one is written
    save_weights(short_run.model, folder)
    assert not default_reranker_exists(settings)


def test_a_model_saved_before_the_engine_moved_into_packages_still_loads(trained_folder, tmp_path, cpu):
    """Models saved before the move name their head ``explorer.joint_scorer.JointMeanCosine`` in modules.json."""
    import shutil

    folder = shutil.copytree(trained_folder, tmp_path / "saved-before-the-move")
    modules = json.loads((folder / "modules.json").read_text())
    heads = [m for m in modules if m["type"].endswith(".JointMeanCosine")]
    assert [m["type"] for m in heads] == ["explorer.models.joint_head.JointMeanCosine"]  # what a save writes now
    heads[0]["type"] = "explorer.joint_scorer.JointMeanCosine"  # what a save wrote before
    (folder / "modules.json").write_text(json.dumps(modules))
    settings = Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models")
    old, new = load_reranker(str(folder), cpu, settings), load_reranker(str(trained_folder), cpu, settings)
    assert old.info.source == "trained here"
    pairs = [("roll back a deploy", "Run shipyard rollback to the previous release.")]
    assert old.model.predict(pairs)[0] == pytest.approx(new.model.predict(pairs)[0], abs=1e-6)


def test_without_a_trained_default_the_untrained_one_stands_in_and_says_so(tmp_path, cpu):
    settings = Settings(cache_dir=tmp_path, hub_mode="offline", models_dir=tmp_path / "none")
    assert not load_reranker(DEFAULT_RERANKER, cpu, settings).info.trained_for_relevance
    with pytest.raises(ModelLoadError, match="python -m explorer build-default-reranker"):
        load_reranker(TRAINED_RERANKER, cpu, settings)


def test_a_folder_needing_its_own_code_is_refused_without_trust(tmp_path, cpu, settings):
    """A model folder whose modules.json names a class outside sentence-transformers runs foreign code."""
    folder = tmp_path / "custom"
    build_packaged_reranker(cpu).save_pretrained(str(folder))  # no explorer card: an arbitrary folder
    modules = json.loads((folder / "modules.json").read_text())
    assert any(not m["type"].startswith("sentence_transformers.") for m in modules)
    with pytest.raises(ModelLoadError, match="needs to run code of its own.*Allow the models' own code"):
        load_reranker(str(folder), cpu, settings)


def test_train_and_evaluate_reports_before_and_after(tmp_path):
    """The whole run the CLI and the Train page use: data, score before, a few steps, score after, saved card."""
    from explorer.settings import SAMPLE_DATA
    from explorer.training.run import TrainRequest, train_and_evaluate

    lines = []
    request = TrainRequest(data=SAMPLE_DATA, out=tmp_path / "model", split="train", held_out="test", depth=10,
                           pseudo="title", pseudo_limit=20,
                           settings=TrainSettings(steps=6, queries_per_step=2, max_length=128, log_every=1,
                                                  student_layers=2))
    result = train_and_evaluate(request, Settings.from_env(), TRAINING, say=lines.append)
    assert set(result.before) >= {"first stage", "reranked", "blend 0.5"}
    assert result.before["first stage"] == result.after["first stage"]  # the first stage is not trained
    assert result.steps == 6 and len(result.losses) == 6
    card = read_card(result.folder)
    assert card["held_out_ndcg@10_before"] == result.before and card["steps"] == 6
    assert "split train + title pseudo-queries" in card["trained_on"]
    assert any(line.startswith("training groups:") for line in lines)


def test_a_students_card_names_the_teacher_that_ran_where_another_stood_in(trained_folder, tmp_path):
    """Offline, the default reranker's hub name is answered by the reranker trained here: the student's card says
    so, as every other label does (it named the hub model, which never ran)."""
    import shutil

    from explorer.settings import SAMPLE_DATA
    from explorer.training.run import TrainRequest, train_and_evaluate

    settings = Settings(cache_dir=tmp_path / "cache", models_dir=tmp_path / "models", hub_mode="offline")
    shutil.copytree(trained_folder, settings.models_dir / DEFAULT_RERANKER_DIR)
    # four pseudo-query groups for the teacher to score, not the whole train split: the card is what is tested
    request = TrainRequest(data=SAMPLE_DATA, out=tmp_path / "student", depth=5, teacher=DEFAULT_RERANKER,
                           use_labels=False, pseudo="title", pseudo_limit=4,
                           settings=TrainSettings(loss="distill", steps=1, queries_per_step=1, max_length=64,
                                                  student_layers=1))
    result = train_and_evaluate(request, settings, TRAINING, say=lambda line: None)
    trained_on = read_card(result.folder)["trained_on"]
    assert trained_on.endswith(f"scores of the teacher reranker trained here ({DEFAULT_RERANKER_DIR}) "
                               f"(asked for {DEFAULT_RERANKER})"), trained_on


def test_training_needs_a_held_out_split(tmp_path):
    from explorer.errors import ConfigError
    from explorer.settings import SAMPLE_DATA
    from explorer.training.run import TrainRequest, train_and_evaluate

    with pytest.raises(ConfigError, match="must differ"):
        train_and_evaluate(TrainRequest(data=SAMPLE_DATA, out=tmp_path, split="test", held_out="test"),
                           Settings.from_env(), TRAINING)
    with pytest.raises(ConfigError, match="No labelled split 'dev'"):
        train_and_evaluate(TrainRequest(data=SAMPLE_DATA, out=tmp_path, held_out="dev"), Settings.from_env(), TRAINING)


def test_graded_groups_keep_the_near_misses_partial_relevance(sample, base_pipeline):
    group = labelled_groups(sample, "train", base_pipeline, negatives=7)[0]
    query_id = next(q for q in sample.qrels_by_split["train"] if sample.queries[q].text == group.query)
    labels = sample.labels_for(query_id)
    grade_of = {sample.document(d).full_text: g for d, g in labels.items()}
    relevance = group.relevance()
    assert relevance[0] == 1.0 and len(relevance) == 8
    assert list(relevance[1:]) == [grade_of.get(text, 0) / 3 for text in group.negatives]
    assert any(0 < r < 1 for r in relevance[1:])  # a near-miss labelled 1 keeps a third


def test_distilling_a_teacher_into_a_two_layer_student(sample, base_pipeline, trained_folder, tmp_path):
    from explorer.training.data import teacher_scores
    from explorer.training.trainer import TrainSettings, train

    from explorer.training.run import load_teacher

    cpu = TRAINING
    # int8 forced for every engine (as on a CPU that takes it): the teacher still scores at the training precision
    settings = Settings(cache_dir=tmp_path, hub_mode="offline", engine_path="int8")
    teacher = load_teacher(str(trained_folder), cpu, settings)
    assert teacher.engine.info().precision == cpu.precision, teacher.engine.info()
    groups = labelled_groups(sample, "train", base_pipeline)[:4]
    pairs = teacher_scores(groups, teacher)
    assert len(pairs) == 4 * 8
    import torch

    with inference_context(cpu):  # the plain call at the same precision
        direct = teacher.model.predict([(pairs[0].query, pairs[0].document)], activation_fn=torch.nn.Identity())[0]
    # fp32 is exact; bf16 (OpenVINO's kernels against PyTorch's autocast) rounds differently
    assert pairs[0].score == pytest.approx(float(direct), abs=1e-3 if cpu.precision == "fp32" else 0.1)
    settings = TrainSettings(loss="distill", steps=12, learning_rate=1e-4, queries_per_step=1, max_length=96,
                             student_layers=2, log_every=1)
    outcome = train(groups, settings, cpu, tmp_path / "work", teacher_pairs=pairs)
    assert len(outcome.model[0].model.encoder.layer) == 2
    assert sum(outcome.losses[-3:]) / 3 < sum(outcome.losses[:3]) / 3
