"""The speech recogniser: real Whisper tiny.en and PocketSphinx on real read speech (pocketsphinx-testdata)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assist.inference.asr import PocketSphinxEngine, WhisperEngine, load_asr
from assist.inference.asr.mel import log_mel
from assist.inference.asr.transcript import clean_audio
from assist.inference.asr.whisper import default_model_dir, split_windows
from assist.inference.errors import BadInput, ModelUnavailable
from assist.training.eval_asr import TESTDATA, evaluate_testdata, main, normalise, read_wav16, wer

REPO = Path(__file__).resolve().parents[2]
LIBRIVOX = TESTDATA / "librivox"
FIRST = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"  # "and mister john dashwood had then leisure ..."
SHORT = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"  # "he was not an ill disposed young man"

pytestmark = pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="needs pocketsphinx-testdata (apt)")


@pytest.fixture(scope="module")
def whisper() -> WhisperEngine:
    return WhisperEngine()


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxEngine:
    return PocketSphinxEngine()


def shared_words(a: str, b: str) -> set[str]:
    return set(normalise(a)) & set(normalise(b))


def test_wer_normalises_style_not_words() -> None:
    assert normalise("And Mr. Dashwood, 10 of clubs!") == ["and", "mister", "dashwood", "ten", "of", "clubs"]
    assert wer("he was not an ill disposed young man", "He was not an ill-disposed young man.") == 0
    assert wer("ten of clubs", "10 of close") == pytest.approx(1 / 3)
    assert wer("five five", "") == 1


@pytest.mark.slow
def test_whisper_wer_on_real_speech(capsys) -> None:
    assert main(["--engine", "whisper"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["engine"] == "whisper" and not result["fallback_reason"]
    assert [len(s["files"]) for s in result["sets"].values()] == [5, 5]
    assert result["sets"]["librivox"]["wer"] <= 0.10  # measured 0.042 (greedy), 0.014 (beam 5)
    assert result["overall"]["wer"] <= 0.15  # measured 0.054
    assert result["overall"]["rtf"] < 1.0


@pytest.mark.slow
def test_pocketsphinx_works_but_is_worse(whisper: WhisperEngine, sphinx: PocketSphinxEngine) -> None:
    ours = evaluate_testdata(whisper, sets=("librivox",))["sets"]["librivox"]["wer"]
    theirs = evaluate_testdata(sphinx, sets=("librivox",))["sets"]["librivox"]
    assert theirs["wer"] < 0.6  # it recognises most words (measured ~0.3)
    assert theirs["wer"] > ours
    transcript = sphinx.transcribe(read_wav16(SHORT))
    assert transcript.engine == "pocketsphinx" and transcript.words
    assert all("(" not in w.word and not w.word.startswith("<") for w in transcript.words)


def test_transcript_fields_and_word_times(whisper: WhisperEngine) -> None:
    samples = read_wav16(FIRST)
    transcript = whisper.transcribe(samples)
    assert wer("and mister john dashwood had then leisure to consider how much there might be prudently in his "
               "power to do for them", transcript.text) <= 0.1
    assert transcript.engine == "whisper" and transcript.provider.startswith("ctranslate2 cpu int8")
    assert transcript.seconds == pytest.approx(len(samples) / 16_000, abs=1e-3)
    assert transcript.no_speech_prob is not None and transcript.no_speech_prob < 0.3
    assert transcript.avg_logprob is not None and transcript.avg_logprob > -0.5
    assert transcript.elapsed_ms > 0 and not transcript.partial and not transcript.skipped
    words = transcript.words
    assert [w.word for w in words] == transcript.text.split()
    assert all(0 <= w.start <= w.end <= transcript.seconds for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert words[-1].end > 0.8 * transcript.seconds  # times span the clip, not squeezed at the start


def test_partial_is_a_cheaper_draft_of_the_final(whisper: WhisperEngine) -> None:
    samples = read_wav16(FIRST)
    final = whisper.transcribe(samples)
    partial = whisper.transcribe_partial(samples[: len(samples) * 2 // 3])
    assert partial.partial and partial.text and not partial.words
    assert len(shared_words(partial.text, final.text)) >= 5


def test_silence_noise_and_hum_give_no_words(whisper: WhisperEngine, sphinx: PocketSphinxEngine) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16_000) / 16_000
    silence = np.zeros(3 * 16_000, np.float32)
    noise = rng.normal(0, 0.03, 3 * 16_000).astype(np.float32)  # -30 dBFS: Whisper alone says "you"
    hum = (0.05 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    for engine in (whisper, sphinx):
        quiet = engine.transcribe(silence)
        assert quiet.text == "" and quiet.words == () and quiet.skipped == "silence"
    for clip in (noise, hum):
        transcript = whisper.transcribe(clip)
        assert transcript.text == "" and transcript.skipped == "no speech", transcript
        assert transcript.no_speech_prob is not None and transcript.no_speech_prob > 0.6


def test_clips_under_a_third_of_a_second_are_skipped(whisper: WhisperEngine, sphinx: PocketSphinxEngine) -> None:
    fifty_ms = read_wav16(FIRST)[8000:8800]
    for engine in (whisper, sphinx):
        for transcript in (engine.transcribe(fifty_ms), engine.transcribe_partial(fifty_ms), engine.transcribe([])):
            assert transcript.text == "" and transcript.skipped == "too short"


def test_clipped_offset_and_integer_audio_still_transcribed(whisper: WhisperEngine) -> None:
    samples = read_wav16(SHORT)
    reference = "he was not an ill disposed young man"
    damaged = np.clip(6.0 * samples + 0.25, -1.0, 1.0)  # hard clipping and a DC offset
    transcript = whisper.transcribe(damaged)
    assert wer(reference, transcript.text) <= 0.3, transcript.text
    assert any("DC offset" in w for w in transcript.warnings)
    as_int16 = whisper.transcribe((samples * 32767).astype(np.int16))
    assert wer(reference, as_int16.text) <= 0.3 and not as_int16.warnings  # greedy hears "old-sposed" at times
    as_float_counts = whisper.transcribe(samples.astype(np.float64) * 32767)  # int16 values in a float array
    assert wer(reference, as_float_counts.text) <= 0.3 and "16-bit" in as_float_counts.warnings[0]


@pytest.mark.parametrize("rate", [8_000, 44_100, 48_000])
def test_other_sample_rates_are_refused_with_advice(whisper: WhisperEngine, rate: int) -> None:
    with pytest.raises(BadInput, match=r"16 kHz.*resample"):
        whisper.transcribe(np.zeros(rate, np.float32), sample_rate=rate)


def test_unusable_samples_raise_bad_input() -> None:
    with pytest.raises(BadInput, match="not numbers"):
        clean_audio(np.full(16_000, np.nan, np.float32))
    with pytest.raises(BadInput, match="must be numbers"):
        clean_audio(np.array(["a", "b"]))
    with pytest.raises(BadInput, match="mono"):
        clean_audio(np.zeros((100, 100), np.float32))
    few_nans = np.zeros(16_000, np.float32)
    few_nans[::1000] = np.nan
    repaired = clean_audio(few_nans)
    assert np.isfinite(repaired.samples).all() and "NaN" in repaired.warnings[0]
    stereo = clean_audio(np.zeros((16_000, 2), np.float32))
    assert stereo.samples.shape == (16_000,)


def test_sixty_seconds_are_transcribed_in_joined_windows(whisper: WhisperEngine) -> None:
    pause = np.zeros(8000, np.float32)
    sentences = [part for wav in sorted(LIBRIVOX.glob("*.wav")) for part in (read_wav16(wav), pause)]
    samples = np.concatenate(sentences * 3)[: 60 * 16_000]
    windows = split_windows(samples)
    assert len(windows) == 3 and windows[0][0] == 0 and windows[-1][1] == len(samples)
    assert all(stop - start <= 30 * 16_000 for start, stop in windows)
    assert all(np.abs(samples[stop - 400 : stop + 400]).max() < 0.05 for _, stop in windows[:-1])  # cut in a pause
    transcript = whisper.transcribe(samples)
    assert transcript.seconds == 60.0
    assert normalise(transcript.text)[:4] == ["and", "mister", "john", "dashwood"]
    assert normalise(transcript.text).count("amiable") >= 4  # two sentences with it, in each of ~2.4 repeats
    assert transcript.words[-1].end > 55 and all(a.start <= b.start for a, b in zip(transcript.words, transcript.words[1:]))


def test_load_asr_defaults_to_shipped_whisper() -> None:
    engine = load_asr()
    assert engine.name == "whisper" and engine.fallback_reason == ""
    assert "tiny.en" in engine.version and engine.provider.startswith("ctranslate2 ")


def test_corrupt_model_folder_falls_back_with_a_reason(tmp_path: Path) -> None:
    shipped = default_model_dir()
    assert shipped is not None
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(shipped / name, tmp_path / name)
    (tmp_path / "model.bin").write_bytes(b"\x00not a model" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        WhisperEngine(tmp_path)
    engine = load_asr(tmp_path)
    assert "corrupt" in engine.fallback_reason and str(tmp_path) in engine.fallback_reason
    assert engine.name == "whisper" and "tiny.en" in engine.version  # the shipped model took over
    assert engine.transcribe(read_wav16(SHORT)).text


def test_folder_without_alignment_heads_transcribes_without_word_times(tmp_path: Path) -> None:
    shipped = default_model_dir()
    assert shipped is not None
    (tmp_path / "model.bin").symlink_to(shipped / "model.bin")
    for name in ("tokenizer.json", "vocabulary.txt"):
        shutil.copy(shipped / name, tmp_path / name)
    config = json.loads((shipped / "config.json").read_text())
    del config["alignment_heads"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    engine = WhisperEngine(tmp_path)
    assert engine.version == tmp_path.name and not engine.can_time_words
    transcript = engine.transcribe(read_wav16(SHORT))
    assert "young man" in transcript.text and transcript.words == ()


def test_incomplete_folder_and_missing_runtime_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailable, match="model.bin, tokenizer.json, vocabulary.txt missing"):
        WhisperEngine(tmp_path)
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # as if ctranslate2 were not installed
    engine = load_asr()
    assert engine.name == "pocketsphinx" and "ctranslate2 missing" in engine.fallback_reason
    assert wer("he was not an ill disposed young man", engine.transcribe(read_wav16(SHORT)).text) < 0.6


def test_no_recogniser_at_all_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default bundle has no PocketSphinx: when Whisper cannot load either, the error names both, and a
    frozen app says the fallback is not part of its build rather than asking for pip."""
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(ModelUnavailable, match=r"No speech recogniser.*ctranslate2.*pip install pocketsphinx"):
        load_asr()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(ModelUnavailable, match="PocketSphinx, the fallback recogniser, is not part of this build"):
        load_asr()


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable, match="does not exist"):
        WhisperEngine(missing)
    with pytest.raises(ModelUnavailable, match="does not exist.*settings"):
        load_asr(missing)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_asr("no-such-name-under-models-asr")


@pytest.mark.slow
def test_log_mel_matches_transformers_feature_extractor() -> None:
    from transformers.models.whisper.feature_extraction_whisper import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=16_000)
    rng = np.random.default_rng(1)
    for samples in (read_wav16(FIRST), read_wav16(SHORT)[:12_345], rng.normal(0, 0.1, 31 * 16_000).astype(np.float32)):
        expected = extractor(samples, sampling_rate=16_000, return_tensors="np")["input_features"][0]
        ours = log_mel(samples)
        assert ours.shape == expected.shape == (80, 3000)
        np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.slow
def test_transcribing_does_not_import_torch() -> None:
    code = ("import sys\nfrom assist.inference.asr import load_asr\nfrom assist.training.eval_asr import read_wav16\n"
            f"engine = load_asr()\nprint(engine.transcribe(read_wav16({str(SHORT)!r})).text)\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'onnxruntime', 'PySide6') if m in sys.modules)\n"
            "print('heavy:', heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout and "young man" in result.stdout
