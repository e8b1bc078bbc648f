"""The `preprocess` section: face tracking, mouth ROI and sharding (owned by avssl.preprocessing)."""

from typing import Literal

from pydantic import Field

from avssl.config.base import Section
from avssl.media import FPS, MOUTH_ROI, SAMPLE_RATE, TRAIN_CROP


class PreprocessParams(Section):
    # --- outputs -------------------------------------------------------------------------------------
    crop_size: int = Field(
        MOUTH_ROI,
        ge=TRAIN_CROP,
        le=256,
        description=f"Side of the grayscale mouth ROI in pixels (RAVEn: 96); at least the {TRAIN_CROP}-pixel crop "
        "the video encoders read (avssl.media.TRAIN_CROP).",
    )
    face_size: int = Field(64, ge=16, le=256, description="Side of the aligned face crop (Shukla's target).")
    face_color: bool = Field(False, description="Store face crops as colour (RGB, [T,H,W,3]) instead of grayscale.")
    fps: int = Field(FPS, ge=1, le=120, description="Output video rate; other rates are resampled (nearest frame).")
    sample_rate: int = Field(SAMPLE_RATE, ge=8000, le=48000, description="Output audio rate; other rates are resampled.")
    # --- locator -------------------------------------------------------------------------------------
    locator: Literal["haar", "landmarks"] = Field(
        "haar",
        description="Mouth locator: 'haar' (OpenCV cascades + tracking) or 'landmarks' (<id>.landmarks.npy "
        "(T,68,2) next to each clip, aligned by avssl.preprocessing.landmark_align).",
    )
    keyframe_interval: int = Field(5, ge=1, le=100, description="Run the face detector every N frames.")
    detect_max_side: int = Field(320, ge=64, le=4096, description="Frames are downscaled to this side for detection.")
    haar_scale_factor: float = Field(1.15, gt=1.0, le=2.0, description="detectMultiScale scaleFactor.")
    haar_min_neighbors: int = Field(4, ge=1, le=30, description="detectMultiScale minNeighbors.")
    min_face_fraction: float = Field(
        0.15, gt=0.0, le=1.0, description="Smallest face side searched, as a fraction of the short image side."
    )
    mouth_cascade: bool = Field(True, description="Refine the mouth position with the smile cascade on key frames.")
    mouth_prior_x: float = Field(0.5, ge=0.0, le=1.0, description="Mouth centre x in a Haar face box (fraction of w).")
    mouth_prior_y: float = Field(0.78, ge=0.0, le=1.5, description="Mouth centre y in a Haar face box (fraction of h).")
    mouth_roi_scale: float = Field(
        1.0, gt=0.1, le=4.0, description="Mouth ROI side in frame pixels, as a multiple of the face-box width."
    )
    face_crop_scale: float = Field(1.3, gt=0.5, le=4.0, description="Face crop side as a multiple of face-box width.")
    track_min_score: float = Field(
        0.5, ge=-1.0, le=1.0, description="Template-match score below which tracking is lost until the next detection."
    )
    detection_smooth_keyframes: int = Field(
        3, ge=0, le=50, description="Half-window (in key frames) averaging detector-vs-tracker residuals."
    )
    mouth_refine: bool = Field(
        True, description="Re-measure the mouth row in every frame (lip line / open mouth) instead of a fixed offset."
    )
    mouth_line_offset: float = Field(
        0.024, ge=-0.3, le=0.3,
        description="Lip centre minus measured mouth row, in face widths (the lower lip is the thicker one).",
    )
    smooth_frames: int = Field(1, ge=0, le=25, description="Half-window (frames) of the final mouth-track smoothing.")
    # --- acceptance ----------------------------------------------------------------------------------
    min_frames: int = Field(5, ge=1, description="Clips with fewer frames are rejected (too_short).")
    max_no_face_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Reject a clip when more than this fraction of key frames has no face."
    )
    max_av_drift_s: float = Field(
        0.12, ge=0.0, le=10.0, description="Reject when |audio length - video length| exceeds this (seconds)."
    )
    min_audio_rms: float = Field(1e-4, ge=0.0, description="Audio quieter than this RMS is rejected as silent.")
    max_reject_rate: float = Field(
        0.2, ge=0.0, le=1.0, description="The stage fails (after writing everything) above this reject rate."
    )
    require_metadata: bool = Field(
        True, description="When metadata.csv exists, reject clips missing from it (no_metadata)."
    )
    default_split: Literal["train", "val", "test"] = Field(
        "train", description="Split for clips whose metadata has no `split` column (or no metadata.csv)."
    )
    # --- storage -------------------------------------------------------------------------------------
    clips_per_shard: int = Field(64, ge=1, le=100000, description="Clips per shard (the unit of resume and parallelism).")
    shard_groups: int = Field(
        1, ge=1, le=10000,
        description="Independent preprocessing jobs (shard i goes to job i % shard_groups); a cluster runs them in "
        "parallel, then one job merges them into data/processed. Does not change the output.",
    )
