"""recipes.labels.supervision_turns: the numbers of ``cut.supervisions`` without Lhotse's copies."""

from lhotse import SupervisionSegment
from lhotse.testing.dummies import dummy_cut
from lhotse.utils import fastcopy

from recipes.labels import supervision_turns


def _turns(cut):
    return [(s.id, s.start, s.end, s.speaker) for s in cut.supervisions]


def _cut(i, start, duration, speaker):
    c = dummy_cut(i, duration=10.0, with_data=False)
    sup = SupervisionSegment(f"sup-{i}", c.recording_id, start, duration, speaker=speaker)
    return fastcopy(c, supervisions=[sup])


def test_turns_equal_lhotse_supervisions_of_mixed_and_truncated_cuts():
    a = _cut(0, 0.3, 2.123456789, "A")
    b = _cut(1, 1.1, 3.3, "B")
    mix = a.mix(b, offset_other_by=0.1 + 0.2, allow_padding=True).mix(_cut(2, 0.0, 1.0, "C"), offset_other_by=7.77)
    cuts = [a, mix, mix.truncate(offset=0.7, duration=4.3, keep_excessive_supervisions=True)]
    cuts += list(mix.cut_into_windows(duration=3.0, keep_excessive_supervisions=True))
    muted = fastcopy(mix, tracks=[fastcopy(t, mute=(i == 1)) for i, t in enumerate(mix.tracks)])
    cuts += [muted, fastcopy(mix, tracks=[fastcopy(t, mute=True) for t in mix.tracks])]
    for c in cuts:
        assert supervision_turns(c) == _turns(c), c.id
