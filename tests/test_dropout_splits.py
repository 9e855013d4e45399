"""The dropout study's data: four disjoint splits, and a trace proving predictors and targets never share an
example; the image sets read from user paths (tiny files written in the real formats) join the population."""

from __future__ import annotations

import pickle
from dataclasses import replace

import joblib
import numpy as np
import pytest
import torch
from torch import nn

from dlplayground.data.olivetti import CACHE_FILE
from dlplayground.devices import cpu_threads
from dlplayground.errors import UserInputError
from dlplayground.studies.dropout import measurement
from dlplayground.studies.dropout import study as exp
from dlplayground.studies.dropout.datasets import (
    SPLITS,
    Part,
    StudyData,
    check_disjoint,
    load_packaged,
    load_study_data,
    split_dataset,
    stratified_parts,
)
from dlplayground.studies.dropout.population import Member, design_population

ID_SCALE = 1024.0  # ids sit in pixel (0, 0, 0) as id / 1024: exact in float32, recovered by rounding


def _synthetic(n_per_class: int = 60, classes: int = 4, seed: int = 0) -> StudyData:
    """Learnable 1x4x4 images whose first pixel carries the example's row number."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    x = rng.normal(size=(len(y), 1, 4, 4)) * 0.3
    x[np.arange(len(y)), 0, 1 + y % 3, y // 3] += 2.0  # a class-specific bright pixel
    x[:, 0, 0, 0] = np.arange(len(y)) / ID_SCALE
    return split_dataset("synthetic", "synthetic ids", x, y, seed=3)


def test_stratified_parts_are_disjoint_complete_and_keep_class_shares():
    labels = np.repeat(np.arange(5), [10, 20, 30, 7, 13])
    parts = stratified_parts(labels, {"fit": 0.4, "validation": 0.2, "predictor": 0.2, "target": 0.2}, seed=1)
    rows = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(rows), np.arange(labels.size))  # every row in exactly one part
    for cls, count in zip(range(5), [10, 20, 30, 7, 13], strict=True):
        shares = [np.sum(labels[idx] == cls) for idx in parts.values()]
        assert sum(shares) == count
        assert abs(shares[0] - 0.4 * count) < 1
        assert all(abs(s - 0.2 * count) < 1 for s in shares[1:])
    assert stratified_parts(labels, {"a": 1, "b": 1}, seed=1)["a"].tolist() == \
        stratified_parts(labels, {"a": 1, "b": 1}, seed=1)["a"].tolist()  # seeded


def test_study_data_refuses_overlapping_splits():
    data = _synthetic()
    with pytest.raises(ValueError, match="'predictor' and 'target' share 1 examples"):
        replace(data, target=Part("target", data.target.x, data.target.y,
                                  np.concatenate([data.target.index[:-1], data.predictor.index[:1]]),
                                  data.target.half))
    with pytest.raises(ValueError, match="share"):
        check_disjoint({"a": np.array([1, 2]), "b": np.array([3]), "c": np.array([2])})


def test_packaged_sets_split_four_ways_without_overlap():
    for name in ("digits", "breast_cancer"):
        data = load_packaged(name, 0)
        index = {part: getattr(data, part).index for part in SPLITS}
        check_disjoint(index)
        assert sum(len(i) for i in index.values()) == {"digits": 1797, "breast_cancer": 569}[name]
        for part in SPLITS[1:]:
            half = getattr(data, part).half
            assert abs(half.mean() - 0.5) < 0.05  # stratified halves of the held-out parts
    bc = load_packaged("breast_cancer", 0)
    assert torch.allclose(bc.fit.x.mean(dim=0), torch.zeros(30), atol=1e-5)  # standardised on fit only
    assert not torch.allclose(bc.target.x.mean(dim=0), torch.zeros(30), atol=1e-3)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_predictors_and_targets_see_disjoint_examples(arch):
    """Trace every forward pass's raw inputs by phase: the predictors see exactly the predictor split, the
    targets only fit, validation and target examples, and the two sets never meet."""
    data = _synthetic()
    config = replace(exp.resolve(exp.build_parser().parse_args(["--quick", "--rates", "0.5"])),
                     prune_sparsities=(0.5, 0.9), random_prune_sparsities=(0.5,), kd_temperatures=(1.0, 4.0),
                     student_steps=3, finetune_steps=2, passes=2)
    member = Member(index=0, dataset="synthetic", arch=arch, width=16, label_noise=0.1, train_fraction=0.6,
                    weight_decay=0.0, dropout=0.1, train_steps=20, seed=5)
    seen: dict[str, set[int]] = {}
    phase = ["training"]

    def record(module: nn.Module, args: tuple) -> None:
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.dim() == 4 and tuple(x.shape[1:]) == (1, 4, 4):
            ids = torch.round(x[:, 0, 0, 0] * ID_SCALE).long().tolist()
            seen.setdefault(phase[0], set()).update(ids)

    def in_phase(name, fn):
        def wrapped(*args, **kwargs):
            phase[0] = name
            try:
                return fn(*args, **kwargs)
            finally:
                phase[0] = "after"
        return wrapped

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        with pytest.MonkeyPatch.context() as mp, cpu_threads(1):
            mp.setattr(measurement, "measure_predictors", in_phase("predictors", measurement.measure_predictors))
            mp.setattr(measurement, "measure_targets", in_phase("targets", measurement.measure_targets))
            result = measurement.measure_member(member, data, config, torch.device("cpu"), np.random.default_rng(0))
    finally:
        handle.remove()
    split = {part: set(getattr(data, part).index.tolist()) for part in SPLITS}
    assert seen["predictors"] == split["predictor"]  # every predictor example, and nothing else
    assert seen["targets"] <= split["fit"] | split["validation"] | split["target"]
    assert split["target"] <= seen["targets"]  # the targets are scored on the target split ...
    assert split["validation"] <= seen["targets"]  # ... and choose (fine-tuning, temperature) on validation
    assert seen["predictors"].isdisjoint(seen["targets"])
    assert seen["training"] <= split["fit"]
    assert seen["after"] <= split["fit"] | split["validation"]  # train accuracy and the clean-accuracy covariate
    assert result.targets.distillation.chosen_temperature in config.kd_temperatures


def _write_olivetti(folder, subjects=4, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(20, 230, size=(subjects, 4096))
    faces = np.repeat(base, 10, axis=0) + rng.integers(-15, 15, size=(subjects * 10, 4096))
    joblib.dump(np.clip(faces, 0, 255).astype(np.uint8), folder / CACHE_FILE, compress=6)


def _write_cifar(folder, per_class=8):
    n = 10 * per_class
    rng = np.random.default_rng(1)
    labels = [i % 10 for i in range(n)]
    data = (rng.uniform(size=(n, 3072)) * 255).astype(np.uint8)
    folder.mkdir()
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": data}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=4))


def test_image_sets_from_user_paths_join_the_population(tmp_path):
    _write_olivetti(tmp_path)
    _write_cifar(tmp_path / "cifar")
    config = exp.resolve(exp.build_parser().parse_args(
        ["--quick", "--population", "12", "--olivetti", str(tmp_path / CACHE_FILE), "--cifar", str(tmp_path / "cifar"),
         "--cifar-per-class", "6"]))
    assert config.datasets == ("digits", "breast_cancer", "olivetti", "cifar10")
    faces = load_study_data("olivetti", 0, olivetti=config.olivetti)
    assert faces.input_shape == (1, 32, 32)
    assert faces.n_classes == 4
    assert (faces.fit.size, faces.validation.size, faces.predictor.size, faces.target.size) == (16, 8, 8, 8)
    cifar = load_study_data("cifar10", 0, cifar=config.cifar, cifar_per_class=6)
    assert cifar.input_shape == (3, 32, 32)
    assert cifar.fit.size + cifar.target.size + 2 * cifar.validation.size == 60
    groups = {m.group for m in design_population(config, 0)}
    assert {"olivetti-cnn", "olivetti-mlp", "cifar10-cnn", "cifar10-mlp"} <= groups


def test_image_flags_refuse_missing_or_unusable_data(tmp_path):
    with pytest.raises(UserInputError, match="--olivetti .*no such file"):
        exp.resolve(exp.build_parser().parse_args(["--quick", "--olivetti", str(tmp_path / "nope.pkz")]))
    joblib.dump(np.random.default_rng(0).integers(0, 255, size=(7, 4096)).astype(np.uint8),
                tmp_path / "odd.pkz", compress=6)
    with pytest.raises(UserInputError, match="whole subjects of 10"):
        load_study_data("olivetti", 0, olivetti=tmp_path / "odd.pkz")


def test_without_image_data_the_fallback_is_announced(tmp_path):
    config = exp.resolve(exp.build_parser().parse_args(["--quick", "--out", str(tmp_path / "x")]))
    assert config.olivetti is None
    assert config.cifar is None
    assert config.datasets == ("digits", "breast_cancer")
    text = exp._data_source({"digits": load_packaged("digits", 0)}, config)
    assert "no real image set given" in text
    assert "offline default" in text
