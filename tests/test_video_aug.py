"""On-the-fly mouth mirroring (train.video_flip): the DCT sign pattern is exactly the DCT of the
mirrored crops, crops are mirrored along the width, and the probability is honoured."""
from __future__ import annotations

import numpy as np
import pytest

from avsr.train.data import Utterance
from avsr.train.video_aug import VideoFlip, VideoFlipConfig, mirror_video, video_flip_config
from avsr.utils.errors import AvsrInputError
from avsr.video.roi import roi_dct_features


def test_dct_mirror_equals_the_dct_of_mirrored_crops() -> None:
    crops = (np.random.default_rng(0).random((6, 44, 44)) * 255).astype(np.uint8)
    for k in (16, 64):
        mirrored = roi_dct_features(np.ascontiguousarray(crops[:, :, ::-1]), num_coeffs=k)
        assert np.allclose(mirror_video(roi_dct_features(crops, num_coeffs=k)), mirrored, atol=1e-6)
    assert np.array_equal(mirror_video(crops)[:, :, 0], crops[:, :, -1])
    with pytest.raises(ValueError, match="crops"):
        mirror_video(np.zeros(5))


def test_flip_probability_and_audio_only_utterances() -> None:
    dct = np.random.default_rng(1).standard_normal((10, 64)).astype(np.float32)
    utt = Utterance("u", np.zeros((40, 80), np.float32), dct, "bin blue", 0.4)
    rng = np.random.default_rng(2)
    assert VideoFlip(VideoFlipConfig(prob=0.0))(utt, rng) is utt
    flipped = VideoFlip(VideoFlipConfig(prob=1.0))(utt, rng)
    assert flipped is not utt and np.allclose(mirror_video(flipped.roi), dct)  # a mirror twice is the identity
    no_video = Utterance("v", utt.fbank, None, "bin", 0.4)
    assert VideoFlip(VideoFlipConfig(prob=1.0))(no_video, rng) is no_video
    draws = [VideoFlip(VideoFlipConfig(prob=0.5))(utt, rng) is not utt for _ in range(400)]
    assert 150 < sum(draws) < 250
    with pytest.raises(AvsrInputError, match="video_flip"):  # a one-line error, like the other train.* settings
        VideoFlip(VideoFlipConfig(prob=1.5))
    with pytest.raises(AvsrInputError, match="video_flip"):  # a negative prob is an error, not "off"
        video_flip_config({"prob": -0.5})
    with pytest.raises(AvsrInputError, match="video_flip"):
        video_flip_config({"probability": 0.5})
