"""``runner finetune``: exactly the requested layers unfrozen, BatchNorm frozen, registration only on
improvement (or always), interruption keeps a checkpoint and --resume continues the same run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_folders

import runner
from runner import tracking
from runner.errors import RunnerError
from runner.finetuning import unfreeze
from runner.finetuning.run import finetune
from runner.plugins.registry import get_backbone


def _backbone(name: str):
    return get_backbone(name).build((32, 32, 3), None)


def test_unfreeze_blocks_and_layers_keep_batchnorm_frozen() -> None:
    m = _backbone("mobilenet_v2_035")
    top = unfreeze.select(m, block_count=1)
    assert [layer.name for layer in top] == ["block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"]
    unfreeze.apply(m, top)
    trainable = [layer.name for layer in m.layers if layer.trainable and layer.weights]
    assert trainable == [layer.name for layer in top]
    assert all(not layer.trainable for layer in m.layers if unfreeze.is_batchnorm(layer))
    assert [layer.name for layer in unfreeze.select(m, layers=2)] == ["block_16_project", "Conv_1"]
    assert len(unfreeze.select(m, block_count=2)) == 7 and unfreeze.select(m, layers=0) == []
    vgg = _backbone("vgg16")
    assert [layer.name for layer in unfreeze.select(vgg, block_count=1)] == [
        "block5_conv1",
        "block5_conv2",
        "block5_conv3",
    ]
    with pytest.raises(RunnerError, match="bad --unfreeze-blocks"):
        unfreeze.select(vgg, block_count=6)
    with pytest.raises(RunnerError, match="bad --unfreeze"):
        unfreeze.select(vgg, layers=99)


@pytest.fixture
def searched(workdir: Path):
    root = make_folders(workdir / "train", per_class=10)
    return runner.search(
        str(root), trials=2, backbone="mobilenet_v2_035", weights="none", image_size=32, epochs=3, seed=2
    )


def test_finetune_registers_only_on_improvement_unless_always(searched) -> None:
    cl = tracking.client(tracking.tracking_uri())
    name = searched.registered_model["name"]
    r = finetune(searched.parent_run_id, head_epochs=1, epochs=2, unfreeze_blocks=1)
    assert r.unfrozen == ["block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"]
    versions = cl.search_model_versions(f"name='{name}'")
    assert (r.improvement > 0) == bool(r.registered) and len(versions) == 1 + bool(r.registered)
    assert r.improvement > -1e-3  # only an epoch that beats the search's model is kept; else that model is
    run = cl.get_run(r.run_id)
    assert run.data.tags["mlflow.parentRunId"] == searched.parent_run_id and run.info.status == "FINISHED"
    assert {"head_loss", "finetune_val_loss", "before_val_log_loss", "val_log_loss"} <= set(run.data.metrics)
    # it starts from the search's best trial as validated (before its refit), not from the refitted blend
    before = run.data.metrics["before_val_log_loss"]
    assert before == pytest.approx(searched.best_metrics["val_log_loss"], abs=0.02)

    forced = finetune(f"models:/{name}/1", head_epochs=0, epochs=1, unfreeze_layers=2, register="always", trials=2)
    assert forced.unfrozen == ["block_16_project", "Conv_1"] and forced.registered
    run = cl.get_run(forced.run_id)
    lrs = [m.value for m in cl.get_metric_history(forced.run_id, "trial_lr")]
    assert len(lrs) == 2 and all(1e-6 <= v <= 1e-4 for v in lrs) and float(run.data.params["best_lr"]) in lrs
    version = cl.get_model_version(name, str(forced.registered["version"]))
    assert "better by" in version.description
    from runner.use.load import load

    tuned = load(f"models:/{name}/{forced.registered['version']}")  # the search's mirror choice, applied again
    assert tuned.meta["ensemble"]["tta"] == searched.model["tta"]
    assert any(layer.name == "mirror" for layer in tuned.model.layers) == searched.model["tta"]

    # interrupted in phase 2: the run is KILLED, its checkpoint kept; --resume continues the same run
    def stop(kind: str, p: dict) -> None:
        if kind == "epoch" and p["phase"] == "finetune":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as err:  # FinetuneInterrupted: it says where the checkpoint is
        finetune(searched.parent_run_id, head_epochs=1, epochs=3, on_event=stop, register="never")
    assert (Path(err.value.checkpoint) / "state.json").is_file()
    killed = [x for x in cl.search_runs([searched.experiment_id]) if x.data.tags.get("runner") == "finetune"]
    killed = [x for x in killed if x.info.status == "KILLED"]
    assert len(killed) == 1
    again = finetune(searched.parent_run_id, head_epochs=1, epochs=3, resume=True, register="never")
    assert again.run_id == killed[0].info.run_id and cl.get_run(again.run_id).info.status == "FINISHED"
    assert "head" not in again.epochs and again.epochs["finetune"] >= 1  # phase 1 was done before the stop
    assert again.registered == {} and cl.get_run(again.run_id).data.tags["registered"].startswith("no")
    with pytest.raises(RunnerError, match="bad --register"):
        finetune(searched.parent_run_id, register="sometimes")
