"""Tunes you can hear and see: note names to a WAV file (numpy synthesis) and piano-roll data.

Items of the notes corpus are space-separated note names in scientific pitch notation
(`G4 Bb4 C5`). They carry no rhythm, so every note gets the same duration.
"""

from __future__ import annotations

import io
import re
import wave

import numpy as np

from tnaas.errors import TnaasError

SAMPLE_RATE = 16_000  # Hz: keeps the 4th harmonic of the highest tunes' notes (~4 kHz), 32 kB per second
NOTE_SECONDS = 0.22  # one note: roughly an eighth note of a jig or reel
MAX_NOTES = 2_000  # about 7 minutes: longer "tunes" are not something to listen to
_NOTE = re.compile(r"^([A-G])(#|b)?(-?[0-9])$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# A few harmonics with falling weights: rounder than a pure sine, still clearly a melody.
_HARMONICS = ((1, 1.0), (2, 0.35), (3, 0.15), (4, 0.05))


def note_to_midi(note: str) -> int:
    """MIDI number of a note name: `C4` is 60, `A4` is 69, `Bb3` is 58, `C-1` is 0."""
    match = _NOTE.match(note)
    if match is None:
        raise TnaasError(f"{note!r} is not a note like C4, F#5 or Bb3")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "b": -1, None: 0}[accidental]
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter] + shift


def midi_to_hz(midi) -> np.ndarray:
    """Frequency in Hz of MIDI numbers (equal temperament, A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69) / 12)


def notes_of(item: str) -> list[str]:
    """The note names of a tune (an item of the notes corpus), checked and length-capped."""
    notes = item.split()
    if not notes:
        raise TnaasError("the tune is empty: nothing to play")
    if len(notes) > MAX_NOTES:
        raise TnaasError(f"the tune has {len(notes):,} notes; at most {MAX_NOTES:,} can be played")
    return notes


def synthesize(item: str, note_seconds: float = NOTE_SECONDS, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The tune as audio samples: float32, shape (notes * samples per note,), peak 0.8.

    Each note is a sum of harmonics under a short attack and an exponential decay, so
    repeated notes are heard as separate notes and the joins do not click.
    """
    midi = np.array([note_to_midi(n) for n in notes_of(item)])
    per_note = max(1, int(round(note_seconds * sample_rate)))
    t = np.arange(per_note) / sample_rate
    attack = max(1, int(0.01 * sample_rate))
    envelope = np.exp(-3.0 * t / note_seconds)
    envelope[:attack] *= np.linspace(0.0, 1.0, attack)
    envelope[-attack:] *= np.linspace(1.0, 0.0, attack)
    phase = 2 * np.pi * midi_to_hz(midi)[:, None] * t[None, :]  # (notes, samples per note)
    # sin(k x) by the recurrence sin((k+1)x) = 2 cos(x) sin(kx) - sin((k-1)x): one sin and
    # one cos for all harmonics instead of one sin each.
    two_cos = 2 * np.cos(phase)
    order, previous, current = 1, np.zeros_like(phase), np.sin(phase)
    tones = np.zeros_like(phase)
    for k, weight in _HARMONICS:  # increasing k
        while order < k:
            previous, current, order = current, two_cos * current - previous, order + 1
        tones += weight * current
    audio = (tones * envelope[None, :]).ravel()
    peak = np.abs(audio).max()
    return (0.8 * audio / peak if peak > 0 else audio).astype(np.float32)


def wav_bytes(item: str, note_seconds: float = NOTE_SECONDS, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The tune as a complete mono 16-bit PCM WAV file (bytes), ready for `st.audio`."""
    samples = synthesize(item, note_seconds, sample_rate)
    pcm = np.round(samples * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def piano_roll_notes(item: str, note_seconds: float = NOTE_SECONDS) -> list[dict]:
    """One dict per note, in time order: step (0-based), note, midi, start and end (seconds).

    What the piano-roll chart draws (plain values: no pandas needed to draw it).
    """
    return [
        {"step": step, "note": note, "midi": note_to_midi(note), "start": step * note_seconds,
         "end": (step + 1) * note_seconds}
        for step, note in enumerate(notes_of(item))
    ]  # fmt: skip


def piano_roll(item: str, note_seconds: float = NOTE_SECONDS):
    """`piano_roll_notes` as a pandas DataFrame (columns step, note, midi, start, end)."""
    import pandas as pd  # only here: the app draws the roll from `piano_roll_notes`

    return pd.DataFrame(piano_roll_notes(item, note_seconds), columns=["step", "note", "midi", "start", "end"])
