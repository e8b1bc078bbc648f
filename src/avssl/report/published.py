"""Published RAVEn LRS3 test WERs (%), from the README table reproduced in shared/reference/raven.md.

Keyed by (task, setting) with setting "low" = 30 h trainval labels, "high" = 433 h pretrain + trainval.
"""

from __future__ import annotations

SOURCE = "Haliassos et al., ICLR 2023 (RAVEn), README 'Headline results', LRS3 test WER %"

# model key -> (label, {(task, setting): WER %})
RAVEN_LRS3: dict[str, tuple[str, dict[tuple[str, str], float]]] = {
    "base_lrs3": ("Base, LRS3", {("vsr", "low"): 47.0, ("vsr", "high"): 39.1, ("asr", "low"): 4.7, ("asr", "high"): 2.2}),
    "base_lrs3vox2": ("Base, LRS3+Vox2",
                      {("vsr", "low"): 40.2, ("vsr", "high"): 33.1, ("asr", "low"): 3.8, ("asr", "high"): 1.9}),
    "large_lrs3vox2": ("Large, LRS3+Vox2",
                       {("vsr", "low"): 32.5, ("vsr", "high"): 27.8, ("asr", "low"): 2.7, ("asr", "high"): 1.4}),
    "large_st": ("Large + self-training, LRS3+Vox2",
                 {("vsr", "low"): 24.8, ("vsr", "high"): 24.4, ("asr", "low"): 2.3, ("asr", "high"): 1.4}),
    "large_st_lm": ("Large + self-training + LM, LRS3+Vox2",
                    {("vsr", "low"): 23.8, ("vsr", "high"): 23.1, ("asr", "low"): 1.9, ("asr", "high"): 1.4}),
}

SETTING_HOURS = {"low": "30 h", "high": "433 h"}


def published_wer(model: str, task: str, setting: str) -> float | None:
    entry = RAVEN_LRS3.get(model)
    return None if entry is None else entry[1].get((task, setting))
