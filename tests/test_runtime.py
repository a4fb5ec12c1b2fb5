"""Provider selection, the provider that really runs, and clear errors for bad model files."""

import json
import shutil

import numpy as np
import pytest

from inference.contract_models import write_contract_model
from inference.model_card import ModelCardError, sha256_file
from inference.pipeline import GarmentPipeline
from inference.runtime import (
    PROVIDERS,
    ModelLoadError,
    OnnxModel,
    ProviderError,
    available_providers,
    provider_chain,
)

CPU, CUDA, TRT = PROVIDERS["cpu"], PROVIDERS["cuda"], PROVIDERS["tensorrt"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("pristine")).parent


@pytest.fixture
def model_dir(pristine, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(pristine, folder)
    return folder


def edit_card(folder, change, rehash=True):
    path = folder / "model_card.json"
    doc = json.loads(path.read_text())
    change(doc)
    if rehash:
        doc["sha256"] = {f: sha256_file(folder / f) for f in doc["sha256"]}
    path.write_text(json.dumps(doc))
    return path


def test_auto_orders_tensorrt_cuda_cpu_from_what_is_installed():
    assert provider_chain("auto", [CPU, TRT, CUDA, "AzureExecutionProvider"]) == [TRT, CUDA, CPU]
    assert provider_chain("auto", [CPU, CUDA]) == [CUDA, CPU]
    assert provider_chain("auto", ["AzureExecutionProvider", CPU]) == [CPU]


def test_forcing_a_provider_keeps_cpu_as_the_node_fallback():
    assert provider_chain("cuda", [CPU, CUDA]) == [CUDA, CPU]
    assert provider_chain("tensorrt", [CPU, CUDA, TRT]) == [TRT, CUDA, CPU]
    assert provider_chain("cpu", [CPU, CUDA]) == [CPU]


def test_forcing_a_missing_provider_or_a_bad_name_is_a_clear_error():
    with pytest.raises(ProviderError, match="'cuda'.*not available.*onnxruntime-gpu"):
        provider_chain("cuda", [CPU])
    with pytest.raises(ProviderError, match="unknown provider 'gpu'"):
        provider_chain("gpu", [CPU])


def test_session_reports_the_provider_that_actually_runs(pristine):
    model = OnnxModel(pristine / "pose.onnx", "auto")
    assert model.provider == model.session.get_providers()[0]
    assert model.provider in available_providers()
    if CUDA not in available_providers():
        assert model.provider == CPU and model.provider_short == "cpu" and not model.uses_gpu
    out = model.run({"crops": np.zeros((3, 3, 256, 192), np.float32)})
    assert out["simcc_x"].shape == (3, 81, 384) and out["simcc_y"].shape == (3, 81, 512)


@pytest.mark.skipif(CUDA in available_providers(), reason="checks the error when CUDA is absent")
def test_pipeline_forced_to_cuda_without_it_fails_naming_the_provider(pristine):
    with pytest.raises(ProviderError, match="CUDAExecutionProvider"):
        GarmentPipeline.from_card(pristine / "model_card.json", provider="cuda")


def test_missing_model_file_names_the_file(model_dir):
    (model_dir / "pose.onnx").unlink()
    with pytest.raises(ModelCardError, match=r"pose\.onnx is missing"):
        GarmentPipeline.from_card(model_dir / "model_card.json", provider="cpu")


def test_missing_card_names_the_card(tmp_path):
    with pytest.raises(ModelCardError, match="model card not found"):
        GarmentPipeline.from_card(tmp_path / "nope" / "model_card.json", provider="cpu")


def test_sha256_mismatch_names_the_file(model_dir):
    with open(model_dir / "detector.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelCardError, match=r"detector\.onnx does not match its card"):
        GarmentPipeline.from_card(model_dir / "model_card.json", provider="cpu")


@pytest.mark.parametrize("damage", ["not_onnx", "truncated"])
def test_corrupt_onnx_with_matching_hash_names_the_file(model_dir, damage):
    target = model_dir / "pose.onnx"
    data = target.read_bytes()
    target.write_bytes(b"this is not a protobuf at all" * 10 if damage == "not_onnx" else data[: len(data) // 2])
    card = edit_card(model_dir, lambda doc: None)  # the card is consistent, the file is broken
    with pytest.raises(ModelLoadError, match=r"pose\.onnx is not a loadable ONNX model"):
        GarmentPipeline.from_card(card, provider="cpu")


def test_input_size_disagreeing_with_the_card_names_file_and_tensor(model_dir):
    def bigger(doc):
        doc["detector"]["preprocess"]["input_size"] = [416, 416]

    with pytest.raises(ModelLoadError, match=r"detector\.onnx: input 'image' has shape \(1, 3, 320, 320\)"):
        GarmentPipeline.from_card(edit_card(model_dir, bigger), provider="cpu")


def test_simcc_split_disagreeing_with_the_card_is_caught(model_dir):
    def split3(doc):
        doc["pose"]["simcc_split_ratio"] = 3.0

    with pytest.raises(ModelLoadError, match=r"pose\.onnx: output 'simcc_x'"):
        GarmentPipeline.from_card(edit_card(model_dir, split3), provider="cpu")


def test_wrong_graph_in_a_slot_names_the_missing_input(model_dir):
    shutil.copy(model_dir / "pose.onnx", model_dir / "detector.onnx")  # pose graph where the detector goes
    with pytest.raises(ModelLoadError, match=r"detector\.onnx: no input named 'image'.*crops"):
        GarmentPipeline.from_card(edit_card(model_dir, lambda doc: None), provider="cpu")


def test_unsupported_keypoint_layout_is_refused(model_dir):
    def layout(doc):
        doc["pose"]["layout"] = "coco17"

    with pytest.raises(ModelLoadError, match="coco17"):
        GarmentPipeline.from_card(edit_card(model_dir, layout), provider="cpu")


def test_bundled_card_missing_gives_a_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("GARMENT_STUDIO_RESOURCES", str(tmp_path))
    with pytest.raises(ModelCardError, match="no bundled model.*--model"):
        GarmentPipeline.from_card(None, provider="cpu")


def test_io_binding_path_returns_what_a_plain_run_returns(pristine):
    # The binding path is what GPU providers use; on CPU it binds host outputs, so it runs in CI too.
    crops = np.random.default_rng(0).normal(size=(3, 3, 256, 192)).astype(np.float32)
    plain = OnnxModel(pristine / "pose.onnx", "cpu")
    bound = OnnxModel(pristine / "pose.onnx", "cpu", io_binding=True)
    assert not plain.io_binding and bound.io_binding
    expected, got = plain.run({"crops": crops}), bound.run({"crops": crops})
    assert list(got) == ["simcc_x", "simcc_y"]
    for name in expected:
        assert np.array_equal(expected[name], got[name])
