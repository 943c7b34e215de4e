"""Tune synthesis: note names to MIDI and Hz, WAV bytes that decode to the right pitches, piano rolls."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnaas.app import audio
from tnaas.errors import TnaasError


@pytest.mark.parametrize(
    "note, midi", [("C4", 60), ("A4", 69), ("Bb3", 58), ("C#5", 73), ("B#3", 60), ("Cb4", 59), ("C-1", 0), ("G9", 127)]
)
def test_note_names_map_to_midi_numbers(note, midi):
    assert audio.note_to_midi(note) == midi


@pytest.mark.parametrize("bad", ["H4", "C", "c4", "C##4", "C10", ""])
def test_bad_note_names_are_a_clear_error(bad):
    with pytest.raises(TnaasError, match="is not a note"):
        audio.note_to_midi(bad)


def test_frequencies_follow_equal_temperament():
    assert audio.midi_to_hz([57, 69, 81]) == pytest.approx([220.0, 440.0, 880.0])
    assert audio.midi_to_hz(60) == pytest.approx(261.6256, abs=1e-3)


def decode(data: bytes) -> tuple[wave.Wave_read, np.ndarray]:
    reader = wave.open(io.BytesIO(data), "rb")
    frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return reader, frames


def test_wav_bytes_are_a_mono_16_bit_file_with_one_segment_per_note():
    tune = "G4 Bb4 C5 D5"
    reader, frames = decode(audio.wav_bytes(tune))
    assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, audio.SAMPLE_RATE)
    per_note = round(audio.NOTE_SECONDS * audio.SAMPLE_RATE)
    assert len(frames) == 4 * per_note
    assert np.abs(frames).max() == pytest.approx(0.8 * 32767, rel=1e-3)


def test_each_segment_sounds_at_its_notes_pitch():
    tune = "A4 C5 E5 A3 F#4"
    _, frames = decode(audio.wav_bytes(tune))
    per_note = round(audio.NOTE_SECONDS * audio.SAMPLE_RATE)
    for segment, note in zip(frames.reshape(-1, per_note), tune.split()):
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(per_note)))
        peak_hz = np.argmax(spectrum) * audio.SAMPLE_RATE / per_note
        bin_hz = audio.SAMPLE_RATE / per_note
        assert peak_hz == pytest.approx(audio.midi_to_hz(audio.note_to_midi(note)), abs=bin_hz)


def test_notes_start_and_end_silent_so_repeated_notes_do_not_click():
    samples = audio.synthesize("D5 D5 D5")
    per_note = round(audio.NOTE_SECONDS * audio.SAMPLE_RATE)
    for segment in samples.reshape(-1, per_note):
        assert abs(segment[0]) < 1e-6 and abs(segment[-1]) < 1e-6
        assert np.abs(segment).max() > 0.1


def test_piano_roll_has_one_bar_per_note_in_time_order():
    roll = audio.piano_roll("G4 Bb4 C5")
    assert roll["note"].tolist() == ["G4", "Bb4", "C5"]
    assert roll["midi"].tolist() == [67, 70, 72]
    assert roll["start"].tolist() == pytest.approx([0, audio.NOTE_SECONDS, 2 * audio.NOTE_SECONDS])
    assert (roll["end"] - roll["start"]).tolist() == pytest.approx([audio.NOTE_SECONDS] * 3)


def test_empty_and_overlong_tunes_are_refused():
    with pytest.raises(TnaasError, match="empty"):
        audio.wav_bytes("   ")
    with pytest.raises(TnaasError, match="at most"):
        audio.piano_roll(" ".join(["C4"] * (audio.MAX_NOTES + 1)))


notes = st.builds(
    lambda letter, accidental, octave: f"{letter}{accidental}{octave}",
    st.sampled_from("ABCDEFG"),
    st.sampled_from(["", "#", "b"]),
    st.integers(1, 7),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(notes, min_size=1, max_size=12))
def test_any_tune_synthesises_to_finite_samples_of_the_right_length(tune):
    samples = audio.synthesize(" ".join(tune), note_seconds=0.05, sample_rate=8000)
    assert samples.shape == (len(tune) * 400,)
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 0.8 + 1e-6


def test_synthesis_is_the_sum_of_harmonics_under_the_envelope():
    rate, seconds = 8000, 0.1
    samples = audio.synthesize("A4 E5", note_seconds=seconds, sample_rate=rate)
    per_note = round(seconds * rate)
    t = np.arange(per_note) / rate
    attack = int(0.01 * rate)
    envelope = np.exp(-3.0 * t / seconds)
    envelope[:attack] *= np.linspace(0, 1, attack)
    envelope[-attack:] *= np.linspace(1, 0, attack)
    expected = []
    for hz in (440.0, audio.midi_to_hz(76)):
        tone = sum(w * np.sin(2 * np.pi * k * hz * t) for k, w in ((1, 1.0), (2, 0.35), (3, 0.15), (4, 0.05)))
        expected.append(tone * envelope)
    expected = np.concatenate(expected)
    assert samples == pytest.approx(0.8 * expected / np.abs(expected).max(), abs=1e-5)
