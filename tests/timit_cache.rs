//! The TIMIT feature cache on a generated corpus: the first load extracts and writes it, the
//! second reads it back identical; a changed corpus file (stale), a damaged cache file
//! (corrupt) or other feature settings are detected and the features extracted again, never
//! silently used.

mod common;

use std::path::Path;

use common::timit_corpus::{write_synthetic_timit, SyntheticTimit};
use lsnn_gpu::data::timit::cache::{load_or_extract, FeatureRequest, TimitFeatures};
use lsnn_gpu::data::timit::corpus::SpeakerLists;
use lsnn_gpu::data::timit::mfcc::MfccSettings;

fn request(corpus: &Path, cache: &Path) -> FeatureRequest {
    FeatureRequest {
        corpus: corpus.to_path_buf(),
        lists: SpeakerLists::default(),
        holdout_seed: 0,
        holdout_speakers: 1,
        settings: MfccSettings::default(),
        cache_dir: cache.to_path_buf(),
    }
}

fn same_features(a: &TimitFeatures, b: &TimitFeatures) {
    assert_eq!(a.train, b.train);
    assert_eq!(a.dev, b.dev);
    assert_eq!(a.core_test, b.core_test);
    assert_eq!(a.mean, b.mean);
    assert_eq!(a.std, b.std);
}

fn corpus(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("TIMIT");
    write_synthetic_timit(
        &root,
        &SyntheticTimit {
            train_speakers: 3,
            utterances_per_speaker: 2,
            seconds: 0.6,
            ..SyntheticTimit::default()
        },
    )
    .unwrap();
    root
}

#[test]
fn cache_is_written_once_then_loaded_identical() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path());
    let cache = dir.path().join("cache");
    let first = load_or_extract(&request(&root, &cache)).unwrap();
    assert!(!first.from_cache);
    assert!(first.cache_file.exists());
    assert_eq!(first.mean.len(), 39);
    // Split sizes of the generated corpus: 3 × 2 training utterances (SA1/SA2 left out),
    // 2 development and 2 core-test speakers with 2 utterances each.
    assert_eq!(
        (first.train.len(), first.dev.len(), first.core_test.len()),
        (6, 4, 4)
    );
    // Every frame is labelled except the zero-padded tail; labels are phone indices.
    for u in first.train.iter().chain(&first.dev).chain(&first.core_test) {
        assert_eq!(u.features.nrows(), u.labels.len());
        let labelled = u.labels.iter().filter(|&&l| l >= 0).count();
        assert!(
            labelled + 3 >= u.labels.len(),
            "{}: {labelled} of {}",
            u.id,
            u.labels.len()
        );
    }
    let second = load_or_extract(&request(&root, &cache)).unwrap();
    assert!(second.from_cache);
    assert_eq!(second.cache_file, first.cache_file);
    same_features(&first, &second);
    // z-scoring statistics: over the training frames, not constant.
    assert!(first.std.iter().all(|&s| s > 0.0 && s.is_finite()));
}

#[test]
fn stale_corrupt_or_differently_keyed_caches_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path());
    let cache = dir.path().join("cache");
    let first = load_or_extract(&request(&root, &cache)).unwrap();
    let file = first.cache_file.clone();

    // Corrupt: one payload byte flipped near the end (a label or a feature).
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let again = load_or_extract(&request(&root, &cache)).unwrap();
    assert!(!again.from_cache, "a corrupt cache was used");
    same_features(&first, &again);

    // Truncated.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert!(!load_or_extract(&request(&root, &cache)).unwrap().from_cache);
    assert!(load_or_extract(&request(&root, &cache)).unwrap().from_cache);

    // Stale: an alignment file of the corpus changes (size and time), so its labels may have.
    // (Not an SA sentence: those are left out of every split, their changes do not matter.)
    let phn = walk_files(&root)
        .into_iter()
        .find(|p| {
            let name = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_uppercase();
            name.ends_with(".PHN") && !name.starts_with("SA")
        })
        .unwrap();
    let text = std::fs::read_to_string(&phn).unwrap();
    std::fs::write(&phn, format!("{text}\n")).unwrap();
    let stale = load_or_extract(&request(&root, &cache)).unwrap();
    assert!(!stale.from_cache, "a stale cache was used");

    // Other feature settings: another cache file; the first stays valid for its settings.
    let mut other = request(&root, &cache);
    other.settings.preemphasis = 0.9;
    let o = load_or_extract(&other).unwrap();
    assert!(!o.from_cache);
    assert_ne!(o.cache_file, file);
    assert_ne!(o.train[0].features, first.train[0].features);
    assert!(load_or_extract(&request(&root, &cache)).unwrap().from_cache);
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
