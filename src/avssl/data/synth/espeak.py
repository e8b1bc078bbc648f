"""Minimal ctypes binding to the eSpeak NG C library (synchronous synthesis with phoneme events).

Why ctypes and not the `espeak-ng` command line: the C API reports every phoneme and word together with
its audio position, which the talking-face renderer needs to put the mouth in sync with the audio, and
it avoids one process launch per clip. The library keeps global state, so one :class:`ESpeak` per
process (worker) is used; calls are serialised by construction (multiprocessing, not threads).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050  # eSpeak NG's native output rate

# espeak_AUDIO_OUTPUT / options / flags / parameters (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_SSML = 0x10
_POS_CHARACTER = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}

EVENT_WORD = 1
EVENT_END = 5
EVENT_PHONEME = 7


class _IdUnion(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _IdUnion),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Event:
    """A phoneme or word event: ``sample`` is its start in the 22,050 Hz output."""

    kind: str  # "phoneme" | "word"
    sample: int
    name: str  # phoneme mnemonic (phoneme events)
    text_position: int  # 1-based character position (word events)


def find_library() -> tuple[str, str | None]:
    """Library and data paths: the `espeakng_loader` wheel first, else a system libespeak-ng."""
    try:
        import espeakng_loader

        lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        if Path(lib).exists():
            return lib, data
    except (ImportError, RuntimeError):
        pass
    lib = ctypes.util.find_library("espeak-ng")
    if lib is None:
        raise RuntimeError("eSpeak NG not found: pip install espeakng-loader (or apt-get install libespeak-ng1)")
    return lib, None


class ESpeak:
    """One initialised eSpeak NG instance. ``synth`` returns int16 audio and phoneme/word events."""

    _instance: "ESpeak | None" = None

    def __init__(self) -> None:
        self._paths = find_library()
        self._cb = _CALLBACK(self._callback)  # keep a reference: ctypes would free it otherwise
        self._chunks: list[np.ndarray] = []
        self._events: list[Event] = []
        self.lib = None

    def _load(self) -> None:
        """dlopen a fresh copy: eSpeak NG keeps static synthesis state (pitch flutter index, wave phase)
        across utterances and `espeak_Terminate` does not reset it, so the same call would give different
        samples depending on what the process spoke before. A fresh load makes each clip depend only on
        its own inputs (and so on nothing like thread count or clip order); it costs about 3 ms."""
        lib_path, data_path = self._paths
        self.lib = ctypes.CDLL(lib_path)
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode() if data_path else None,
            _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT,
        )  # fmt: skip
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"eSpeak NG initialisation failed or unexpected sample rate ({rate})")
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]

    def _unload(self) -> None:
        import _ctypes

        self.lib.espeak_Terminate()
        _ctypes.dlclose(self.lib._handle)
        self.lib = None

    @classmethod
    def get(cls) -> "ESpeak":
        """The per-process instance (eSpeak NG state is global to the library)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _callback(self, wav, n, events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            ev = events[i]
            if ev.type == EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("ascii", "replace")
                self._events.append(Event("phoneme", int(ev.sample), name, int(ev.text_position)))
            elif ev.type == EVENT_WORD:
                self._events.append(Event("word", int(ev.sample), "", int(ev.text_position)))
            i += 1
        return 0

    def synth(
        self,
        text: str,
        voice: str,
        *,
        rate: int,
        volume: int,
        pitch: int,
        pitch_range: int,
        ssml: bool = False,
        seed: int = 0,
    ) -> tuple[np.ndarray, list[Event]]:
        """Synthesise ``text`` (plain or SSML) with the given voice and base prosody, from a fresh state.

        ``seed`` seeds eSpeak NG's noise generator (breathy variants, Klatt voices)."""
        self._load()
        try:
            return self._synth(text, voice, (rate, volume, pitch, pitch_range), ssml, seed)
        finally:
            self._unload()

    def _synth(self, text: str, voice: str, prosody: tuple[int, int, int, int], ssml: bool, seed: int):
        self.lib.espeak_ng_SetRandSeed(int(seed) & 0x7FFFFFFF)
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG voice {voice!r} not found")
        for key, value in zip(("rate", "volume", "pitch", "range"), prosody):
            self.lib.espeak_SetParameter(_PARAM[key], int(value), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        flags = _CHARS_UTF8 | (_SSML if ssml else 0)
        err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed ({err}) for {text!r}")
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio.astype(np.int16, copy=False), list(self._events)
