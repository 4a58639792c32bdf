//! The TIMIT corpus reader end to end on a synthetic corpus in the LDC layout (the real corpus
//! is not redistributable): the standard splits without SA1/SA2, and every audio file (SPHERE
//! in both byte orders, RIFF WAV) and `.PHN` file read back as generated.

mod common;

use std::collections::{HashMap, HashSet};

use common::timit_corpus::{
    synthetic_utterances, write_synthetic_timit, AudioFormat, SyntheticTimit, SAMPLE_RATE,
};
use lsnn_gpu::data::timit::alignment::{frame_labels, read_phn};
use lsnn_gpu::data::timit::audio::read_audio;
use lsnn_gpu::data::timit::corpus::{split_corpus, SpeakerLists};
use lsnn_gpu::data::timit::phones::PHONES_61;

#[test]
fn synthetic_corpus_splits_and_reads_back() -> anyhow::Result<()> {
    let spec = SyntheticTimit {
        train_speakers: 5,
        utterances_per_speaker: 4,
        seconds: 0.6,
        seed: 3,
        big_endian_every: 3,
        wav_every: 4,
    };
    let dir = tempfile::tempdir()?;
    write_synthetic_timit(dir.path(), &spec)?;
    let splits = split_corpus(dir.path(), &SpeakerLists::default(), 0, 2)?;
    // 5 training speakers, 2 development and 2 core-test speakers, 4 SI/SX sentences each.
    assert_eq!(splits.train.len(), 5 * 4);
    assert_eq!(splits.dev.len(), 2 * 4);
    assert_eq!(splits.core_test.len(), 2 * 4);
    assert_eq!(splits.warnings.len(), 2, "{:?}", splits.warnings);

    let generated = synthetic_utterances(&spec);
    // SA1/SA2 were written but are in no split.
    let sa: Vec<_> = generated
        .iter()
        .filter(|u| u.sentence.starts_with("SA"))
        .collect();
    assert_eq!(sa.len(), 2 * 9);
    assert!(sa.iter().all(|u| u.audio_path(dir.path()).is_file()));
    let by_id: HashMap<String, _> = generated.iter().map(|u| (u.id(), u)).collect();
    let mut formats = HashSet::new();
    let all = splits
        .train
        .iter()
        .chain(&splits.dev)
        .chain(&splits.core_test);
    for u in all {
        assert!(!u.sentence.starts_with("SA"), "{}", u.id);
        let g = by_id[&u.id];
        formats.insert(g.format);
        assert_eq!(u.audio, g.audio_path(dir.path()));
        let audio = read_audio(&u.audio)?;
        assert_eq!(audio.sample_rate, SAMPLE_RATE);
        assert!(audio.samples == g.samples, "{}: samples differ", u.id);
        let segs = read_phn(&u.phn)?;
        let want: Vec<(usize, usize, &str)> = segs
            .iter()
            .map(|s| (s.start, s.end, PHONES_61[s.phone]))
            .collect();
        assert_eq!(want, g.segments, "{}", u.id);
        // 25 ms windows every 10 ms; the alignment fits the audio and labels every frame
        // whose centre lies inside it.
        let n = audio.samples.len();
        let frames = (n - 400) / 160 + 1;
        let labels = frame_labels(&segs, n, frames, 400, 160, &u.phn)?;
        assert!(labels.iter().all(|&l| l >= 0), "{}", u.id);
    }
    let want = [
        AudioFormat::SphereLittleEndian,
        AudioFormat::SphereBigEndian,
        AudioFormat::Wav,
    ];
    assert!(want.iter().all(|f| formats.contains(f)), "{formats:?}");
    Ok(())
}

#[test]
fn synthetic_corpus_is_deterministic() {
    let spec = SyntheticTimit::default();
    let (a, b) = (synthetic_utterances(&spec), synthetic_utterances(&spec));
    assert_eq!(a.len(), b.len());
    assert!(a
        .iter()
        .zip(&b)
        .all(|(x, y)| x.samples == y.samples && x.segments == y.segments));
}
