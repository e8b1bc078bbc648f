"""Media constants: the one place that says how fast video runs, how audio is sampled and how big the mouth is.

Why one module: audio and video are aligned by counting samples per video frame (16 kHz / 25 fps = 640), and
the mouth crop fed to the encoders (88 px) is cut from the stored mouth ROI (96 px) -- preprocessing,
batching, the encoders, the synthetic corpus and the CLI all depend on these numbers agreeing. Change them
here (and re-run preprocessing) rather than in any module that reads them. It imports nothing, so every room
of the package -- config included -- may read it.
"""

FPS = 25
"""Video frames per second of processed clips (RAVEn, Shukla: 25 fps, LRS3/LRW's native rate)."""

SAMPLE_RATE = 16000
"""Audio samples per second of processed clips."""

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
"""640: audio samples per 40 ms video frame; the raw-audio encoders emit one vector per this many samples."""

MOUTH_ROI = 96
"""Default side (pixels) of the stored grayscale mouth ROI (``preprocess.crop_size``; RAVEn: 96)."""

TRAIN_CROP = 88
"""Side of the mouth crop the video encoders read: random crop while training, centre crop otherwise (RAVEn: 88).
``preprocess.crop_size`` must be at least this."""

VIDEO_MEAN, VIDEO_STD = 0.421, 0.165
"""Grayscale normalisation of mouth crops, ``(x / 255 - mean) / std`` (RAVEn's LRS3 statistics)."""
