"""Voice: audio checks, resampling, features, the shipped voice-emotion model, ONNX parity, bad input.

Real speech comes from Debian's ``pocketsphinx-testdata`` (English) and from EmoDB in ``../shared/data``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.inference.errors import BadInput, ModelUnavailable
from assist.inference.voice.audio import (
    MAX_SECONDS,
    AudioTooShort,
    InvalidAudio,
    UnreadableAudio,
    prepare_audio,
    read_wav,
)
from assist.inference.voice.features import N_MELS, extract_features, features_from_file, track_pitch
from assist.inference.voice.summary import FEATURE_DIM

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "models" / "voice"
SPHINX = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")


def emodb_dir() -> Path:
    from assist.training.data import default_data_dir

    return default_data_dir() / "emodb" / "wav"


needs_emodb = pytest.mark.skipif(not emodb_dir().is_dir(), reason="EmoDB not found in ../shared/data")


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """7 s of read English speech, 16 kHz int16 mono."""
    if not SPHINX.is_file():
        pytest.skip("apt package pocketsphinx-testdata is not installed")
    samples, rate = read_wav(SPHINX)
    if samples.dtype.kind == "f":  # read_wav gives float32 when soundfile is installed (it is a dependency)
        samples = np.round(samples * 32768.0).clip(-32768, 32767).astype(np.int16)
    return samples, rate


@pytest.fixture(scope="module")
def speech_float(speech) -> np.ndarray:
    return speech[0].astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def model():
    from assist.inference.voice.model import VoiceModel

    return VoiceModel(MODEL_DIR)


@pytest.fixture(scope="module")
def torch_model():
    from assist.inference.voice.model import VoiceModel

    return VoiceModel(MODEL_DIR, backend="torch")


def sine(freq: float, seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def glottal_voice(f0: float, seconds: float = 1.5, rate: int = 16_000) -> np.ndarray:
    """A pulse train at ``f0`` through two formant resonators: a crude vowel with a known pitch."""
    from scipy.signal import lfilter

    x = np.zeros(int(seconds * rate))
    x[:: int(round(rate / f0))] = 1.0
    for formant, bandwidth in ((700, 110), (1200, 120)):
        r = np.exp(-np.pi * bandwidth / rate)
        x = lfilter([1.0], [1, -2 * r * np.cos(2 * np.pi * formant / rate), r * r], x)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


# ---------------------------------------------------------------- audio: rates, channels, types


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000])
def test_resampling_to_16k_keeps_duration_and_pitch(rate: int) -> None:
    audio = prepare_audio(sine(1000.0, 1.0, rate), rate)
    assert audio.sample_rate == 16_000
    assert abs(len(audio.samples) - 16_000) <= 2
    assert audio.samples.dtype == np.float32
    assert abs(dominant_hz(audio.samples, 16_000) - 1000.0) < 5.0
    assert audio.source_rate == rate


def test_int_and_float_input_give_the_same_features(speech, speech_float) -> None:
    samples, rate = speech
    a = extract_features(samples, rate).vector
    b = extract_features(speech_float, rate).vector
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    c = extract_features((samples.astype(np.int32) << 16), rate).vector  # 32-bit PCM
    np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-3)


def test_stereo_either_layout_matches_mono(speech_float) -> None:
    mono = prepare_audio(speech_float, 16_000).samples
    frames_by_channels = prepare_audio(np.stack([speech_float, speech_float], axis=1), 16_000)
    channels_by_frames = prepare_audio(np.stack([speech_float, speech_float]), 16_000)
    assert frames_by_channels.source_channels == channels_by_frames.source_channels == 2
    np.testing.assert_allclose(frames_by_channels.samples, mono, atol=1e-6)
    np.testing.assert_allclose(channels_by_frames.samples, mono, atol=1e-6)


def test_integer_stereo_is_scaled_like_mono(speech) -> None:
    samples, rate = speech
    mono = extract_features(samples, rate)
    stereo = extract_features(np.stack([samples, samples], axis=1), rate)
    assert stereo.audio.source_channels == 2
    assert stereo.warnings == mono.warnings == ()
    assert stereo.prosody.loudness == pytest.approx(mono.prosody.loudness, abs=1e-4)
    np.testing.assert_allclose(stereo.audio.samples, mono.audio.samples, atol=1e-5)


def test_stereo_channels_that_cancel_use_one_channel(speech_float) -> None:
    audio = prepare_audio(np.stack([speech_float, -speech_float], axis=1), 16_000)
    assert np.abs(audio.samples).max() > 0.05
    assert any("cancel" in w for w in audio.warnings)


@pytest.mark.parametrize("rate", [0, -16_000, 1_000, 10_000_000, 16_000.5, True, "16000"])
def test_impossible_sample_rates_are_rejected(rate) -> None:
    with pytest.raises(InvalidAudio):
        prepare_audio(np.zeros(16_000, dtype=np.float32), rate)


def test_non_numeric_or_3d_samples_are_rejected() -> None:
    with pytest.raises(InvalidAudio):
        prepare_audio(np.array(["a"] * 8000), 16_000)
    with pytest.raises(InvalidAudio):
        prepare_audio(np.zeros((2, 2, 8000)), 16_000)


def test_unreadable_files(tmp_path) -> None:
    with pytest.raises(UnreadableAudio, match="not found"):
        read_wav(tmp_path / "missing.wav")
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"RIFF but not really a wave file")
    with pytest.raises(UnreadableAudio):
        features_from_file(bogus)
    assert issubclass(UnreadableAudio, BadInput)


# ---------------------------------------------------------------- features


def test_feature_shapes_and_finiteness(speech) -> None:
    samples, rate = speech
    f = extract_features(samples, rate)
    frames = f.log_mel.shape[0]
    assert f.log_mel.shape == (frames, N_MELS) and f.log_mel.dtype == np.float32
    assert abs(frames - len(samples) / rate * 100) <= 3  # 10 ms hop
    for track in (f.f0_hz, f.periodicity, f.frame_dbfs, f.active, f.voiced):
        assert track.shape == (frames,)
    assert f.vector.shape == (FEATURE_DIM,) and f.vector.dtype == np.float32
    assert np.isfinite(f.log_mel).all() and np.isfinite(f.vector).all() and np.isfinite(f.frame_dbfs).all()
    assert f.speech_present
    p = f.prosody
    assert 60 <= p.pitch_mean_hz <= 300  # an adult reading aloud
    assert 0.2 < p.voiced_fraction < 0.95
    assert 1.0 < p.speaking_rate_hz < 8.0
    assert 0.0 < p.loudness <= 1.0


@pytest.mark.parametrize("f0", [70.0, 110.0, 180.0, 260.0, 420.0])
def test_pitch_tracker_finds_the_pitch_of_a_synthetic_vowel(f0: float) -> None:
    x = glottal_voice(f0)
    pitch, dip = track_pitch(x)
    voiced = pitch > 0
    assert voiced.mean() > 0.9
    rate = 16_000 / round(16_000 / f0)  # the pulse train's true rate (whole-sample period)
    assert abs(np.median(pitch[voiced]) / rate - 1) < 0.02
    assert np.median(dip[voiced]) < 0.2


@pytest.mark.parametrize("gain", [0.3, 2.0])
def test_vector_does_not_depend_on_level(speech_float, gain: float) -> None:
    """A quieter or louder microphone (no clipping, speech still above the -75 dBFS floor) changes nothing."""
    reference = extract_features(speech_float, 16_000)
    scaled = extract_features(speech_float * gain, 16_000)
    np.testing.assert_array_equal(scaled.active, reference.active)
    np.testing.assert_allclose(scaled.vector, reference.vector, rtol=1e-3, atol=1e-3)
    assert (scaled.prosody.energy_mean_dbfs - reference.prosody.energy_mean_dbfs) == pytest.approx(
        20 * np.log10(gain), abs=0.05)


# ---------------------------------------------------------------- bad input through the model


def test_silence_says_no_speech(model) -> None:
    result = model.analyze(np.zeros(32_000, dtype=np.int16), 16_000)
    assert not result.speech_present
    assert result.emotion is None and result.arousal is None and result.embedding is None
    assert result.message == "no speech"
    assert result.loudness == 0.0


@pytest.mark.parametrize("kind", ["noise", "hum", "tone"])
def test_noise_and_tones_are_not_speech(model, kind: str) -> None:
    rng = np.random.default_rng(0)
    signal = {"noise": rng.normal(0, 0.05, 32_000).astype(np.float32),
              "hum": sine(50.0, 2.0, 16_000, 0.2) + rng.normal(0, 0.001, 32_000).astype(np.float32),
              "tone": sine(440.0, 2.0, 16_000)}[kind]
    result = model.analyze(signal, 16_000)
    assert not result.speech_present and result.emotion is None
    assert any("no speech" in w for w in result.warnings)


@pytest.mark.parametrize("ms", [0, 1, 50, 200])
def test_too_short_clips_raise_a_clear_error(model, ms: int) -> None:
    with pytest.raises(AudioTooShort, match="ms") as info:
        model.analyze(sine(200.0, ms / 1000, 16_000), 16_000)
    assert isinstance(info.value, BadInput)
    if ms:
        assert f"{ms} ms" in str(info.value)


def test_sixty_second_clip_works_in_bounded_time(model, speech_float) -> None:
    long = np.tile(speech_float, int(np.ceil(60 * 16_000 / len(speech_float))))[: 60 * 16_000]
    result = model.analyze(long, 16_000)
    assert result.speech_present
    assert result.seconds == pytest.approx(MAX_SECONDS, abs=0.01)
    assert any("last 30 s" in w for w in result.warnings)
    assert result.elapsed_ms < 2_000  # ~0.1 s on 2 cores; generous for a busy CI machine


def test_a_few_nans_are_zeroed_and_reported(model, speech_float) -> None:
    x = speech_float.copy()
    x[::1000] = np.nan
    x[5] = np.inf
    result = model.analyze(x, 16_000)
    assert result.speech_present and result.emotion is not None
    assert any("NaN" in w for w in result.warnings)


def test_mostly_nan_audio_is_rejected(model, speech_float) -> None:
    x = speech_float.copy()
    x[: len(x) // 2] = np.nan
    with pytest.raises(InvalidAudio, match="NaN"):
        model.analyze(x, 16_000)


def test_nan_features_are_rejected(model) -> None:
    vector = np.zeros(FEATURE_DIM, dtype=np.float32)
    vector[3] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        model.predict_vectors(vector)


def test_dc_offset_is_removed(model, speech_float) -> None:
    clean = model.analyze(speech_float, 16_000)
    offset = model.analyze(speech_float + 0.1, 16_000)
    assert any("DC offset" in w for w in offset.warnings)
    assert not any("DC offset" in w for w in clean.warnings)
    assert max(abs(clean.emotion[k] - offset.emotion[k]) for k in EKMAN_EMOTIONS) < 0.02


def test_clipping_is_flagged_but_analysed(model, speech_float) -> None:
    clipped = np.clip(speech_float * 20, -1.0, 1.0)
    result = model.analyze(clipped, 16_000)
    assert any("clipped" in w for w in result.warnings)
    assert result.speech_present and sum(result.emotion.values()) == pytest.approx(1.0, abs=1e-5)
    assert not any("clipped" in w for w in model.analyze(speech_float, 16_000).warnings)


@pytest.mark.parametrize("rate", [8_000, 48_000])
def test_telephone_and_studio_rates(model, speech_float, rate: int) -> None:
    from scipy.signal import resample_poly

    reference = model.analyze(speech_float, 16_000)
    resampled = resample_poly(speech_float, rate // 1000, 16).astype(np.float32)
    result = model.analyze(resampled, rate)
    assert result.speech_present
    assert result.seconds == pytest.approx(reference.seconds, abs=0.01)
    assert result.prosody.pitch_mean_hz == pytest.approx(reference.prosody.pitch_mean_hz, rel=0.05)
    if rate == 48_000:  # nothing below 8 kHz is lost on the way up and back
        assert max(abs(result.emotion[k] - reference.emotion[k]) for k in EKMAN_EMOTIONS) < 0.05


# ---------------------------------------------------------------- the model's output


def test_analysis_is_a_distribution_over_the_app_classes(model, speech) -> None:
    result = model.analyze(*speech)
    assert tuple(result.emotion) == EKMAN_EMOTIONS
    assert sum(result.emotion.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= p <= 1.0 for p in result.emotion.values())
    assert result.emotion["surprise"] == 0.0  # never trained: EmoDB has no surprise
    assert result.emotion["neutral"] == pytest.approx(result.voice_classes["neutral"] + result.voice_classes["boredom"])
    assert 0.0 <= result.arousal <= 1.0
    assert result.embedding.shape == (model.embedding_dim,) and np.isfinite(result.embedding).all()
    assert result.provider in {"CUDAExecutionProvider", "CPUExecutionProvider"}
    assert result.elapsed_ms > 0 and result.label in EKMAN_EMOTIONS


def test_providers_are_filtered_to_what_onnxruntime_offers() -> None:
    import onnxruntime

    from assist.inference.runtime import onnx_providers

    providers = onnx_providers()
    assert providers and providers[-1] == "CPUExecutionProvider"
    assert set(providers) <= set(onnxruntime.get_available_providers())


@needs_emodb
def test_onnx_matches_pytorch(model, torch_model) -> None:
    files = sorted(emodb_dir().glob("*.wav"))[::20]
    vectors = np.stack([features_from_file(f).vector for f in files])
    rng = np.random.default_rng(0)
    vectors = np.concatenate([vectors, vectors * rng.uniform(0.5, 1.5, vectors.shape).astype(np.float32)])
    onnx_probs, onnx_embed = model.predict_vectors(vectors)
    torch_probs, torch_embed = torch_model.predict_vectors(vectors)
    assert np.abs(onnx_probs - torch_probs).max() <= 1e-4
    assert np.abs(onnx_embed - torch_embed).max() <= 1e-4


@needs_emodb
@pytest.mark.slow
def test_a_model_that_never_heard_the_speaker_still_hears_emotion() -> None:
    """Train a small model without speaker 16 (as in LOSO) and check properties on that speaker's clips."""
    from assist.domain import ProgressState
    from assist.inference.voice.emodb import VOICE_CLASSES, load_emodb
    from assist.training.train_voice import VoiceTrainOptions, augmented_vectors, fit_net, predict

    clips = load_emodb(emodb_dir().parent.parent)
    feats = [features_from_file(c.path) for c in clips]
    opts = VoiceTrainOptions(members=1, epochs=15, augment_copies=2)
    train = np.array([c.speaker != "16" for c in clips])
    x = np.stack([f.vector for f in feats])
    y = np.array([VOICE_CLASSES.index(c.emotion) for c in clips])
    augmented = augmented_vectors([f for f, t in zip(feats, train) if t], opts)
    net = fit_net(np.concatenate([x[train], *augmented]), np.tile(y[train], 3), opts, ProgressState(), (0, 1))
    probs = predict(net, x[~train])
    held_out = [c for c, t in zip(clips, train) if not t]
    truth = np.array([VOICE_CLASSES.index(c.emotion) for c in held_out])
    recalls = [(probs.argmax(1)[truth == k] == k).mean() for k in np.unique(truth)]
    assert np.mean(recalls) > 0.4  # chance is 1/7
    # same sentence, same speaker, different emotion: the voice alone must tell anger from sadness
    arousal = probs @ np.array([{"anger": .9, "boredom": .1, "disgust": .5, "fear": .8, "joy": .75, "neutral": .35,
                                 "sadness": .2}[c] for c in VOICE_CLASSES])
    pairs = [(i, j) for i, a in enumerate(held_out) for j, b in enumerate(held_out)
             if a.text_id == b.text_id and a.emotion == "anger" and b.emotion == "sadness"]
    assert len(pairs) >= 3
    assert np.mean([arousal[i] > arousal[j] for i, j in pairs]) >= 0.8


# ---------------------------------------------------------------- missing and corrupt model files


@pytest.fixture
def model_copy(tmp_path) -> Path:
    target = tmp_path / "voice"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_missing_model_folder(tmp_path) -> None:
    from assist.inference.voice.model import VoiceModel

    with pytest.raises(ModelUnavailable, match="missing"):
        VoiceModel(tmp_path / "nothing-here")


@pytest.mark.parametrize("backend, name", [("onnx", "voice.onnx"), ("torch", "weights.safetensors")])
def test_corrupt_or_missing_model_file(model_copy, backend: str, name: str) -> None:
    from assist.inference.voice.model import VoiceModel

    (model_copy / name).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        VoiceModel(model_copy, backend=backend)
    (model_copy / name).unlink()
    with pytest.raises(ModelUnavailable, match="missing"):
        VoiceModel(model_copy, backend=backend)


def test_corrupt_config(model_copy) -> None:
    from assist.inference.voice.model import VoiceModel

    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match="corrupt"):
        VoiceModel(model_copy)


def test_config_for_other_features_is_refused(model_copy) -> None:
    from assist.inference.voice.model import VoiceModel

    config = json.loads((model_copy / "config.json").read_text())
    config["feature_dim"] += 1
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailable, match="retrain"):
        VoiceModel(model_copy)


def test_voice_package_stays_qt_free() -> None:
    code = ("import sys; import assist.inference.voice.model, assist.training.train_voice; "
            "print(any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
