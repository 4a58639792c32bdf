//! Walking the LDC TIMIT layout into the standard training, development and core-test splits
//! (docs/experiments.md §2).
//!
//! The corpus is `TRAIN/` and `TEST/`, each with dialect-region directories `DR1`..`DR8`, each
//! with one directory per speaker (`MDAB0`, `FCJF0`, …) holding per utterance `<SENT>.WAV` (NIST
//! SPHERE audio) and `<SENT>.PHN` (its phone alignment), plus `.WRD`/`.TXT` files not used here.
//! Names are matched case-insensitively, since copies of the corpus differ (`train/dr1/fcjf0/
//! sa1.wav`). Audio may also be `<SENT>.WAV.wav` (a RIFF conversion next to, or instead of, the
//! original); `<SENT>.WAV` (upper case) wins over `<SENT>.wav`, which wins over `<SENT>.WAV.wav`.
//! The walker only finds files; [`super::audio::read_audio`] tells the formats apart by content.
//!
//! The splits ([`split_corpus`]):
//! - the two dialect sentences SA1/SA2, spoken by every speaker, are excluded everywhere (they
//!   would bias the phone statistics towards two sentences);
//! - training: every other utterance under `TRAIN` (3696 in the full corpus);
//! - core test: the `TEST` utterances of the 24 core test speakers (192);
//! - development (validation): the `TEST` utterances of the 50 development speakers (400), or,
//!   when none of them is present (a partial corpus), a seeded hold-out of training speakers.
//!
//! All lists are sorted by utterance id so that a run is reproducible whatever order the file
//! system lists directories in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::speakers::{CORE_TEST_SPEAKERS, DEV_SPEAKERS};

/// What a corpus directory must look like, quoted in errors.
const EXPECTED_LAYOUT: &str = "expected TRAIN/ and TEST/ directories with \
    DR1..DR8/<speaker>/<utterance>.WAV and .PHN (LDC TIMIT layout)";

/// One utterance: its audio and alignment files and where it sits in the corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utterance {
    /// `<dialect>-<speaker>-<sentence>`, upper case, e.g. `DR1-MDAB0-SI1039`; unique within a
    /// split (TIMIT's training and test speakers are disjoint).
    pub id: String,
    /// Speaker id, upper case, e.g. `MDAB0`.
    pub speaker: String,
    /// Dialect region, upper case, e.g. `DR1`.
    pub dialect: String,
    /// Sentence id, upper case, e.g. `SI1039`.
    pub sentence: String,
    /// The audio file (SPHERE or RIFF WAV).
    pub audio: PathBuf,
    /// The `.PHN` alignment file.
    pub phn: PathBuf,
}

/// The speakers of the evaluation splits; [`Default`] gives the standard lists of
/// [`super::speakers`]. Ids are compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeakerLists {
    /// Speakers whose `TEST` utterances form the core test set.
    pub core_test: Vec<String>,
    /// Speakers whose `TEST` utterances form the development (validation) set.
    pub dev: Vec<String>,
}

impl Default for SpeakerLists {
    fn default() -> Self {
        SpeakerLists {
            core_test: CORE_TEST_SPEAKERS.iter().map(|s| s.to_string()).collect(),
            dev: DEV_SPEAKERS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The three splits, each sorted by id, and what was found missing on the way (each warning was
/// also printed to stderr).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusSplits {
    pub train: Vec<Utterance>,
    pub dev: Vec<Utterance>,
    pub core_test: Vec<Utterance>,
    pub warnings: Vec<String>,
}

/// The directory holding `TRAIN/` and `TEST/` (any case): `path` itself, or a `TIMIT` or `data`
/// directory (any case) inside it, or one such directory inside that (`data/TIMIT`), so that the
/// user may point at the corpus as unpacked. The error says what is expected and where it looked.
pub fn find_corpus_root(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        anyhow::bail!(
            "{}: TIMIT corpus directory not found (not a directory); {EXPECTED_LAYOUT}",
            path.display()
        );
    }
    let mut looked = Vec::new();
    let mut level = vec![path.to_path_buf()];
    for depth in 0..3 {
        let mut next = Vec::new();
        for dir in level {
            if child_dir(&dir, "TRAIN")?.is_some() && child_dir(&dir, "TEST")?.is_some() {
                return Ok(dir);
            }
            if depth < 2 {
                for e in list_dir(&dir)? {
                    if e.is_dir
                        && (e.name.eq_ignore_ascii_case("timit")
                            || e.name.eq_ignore_ascii_case("data"))
                    {
                        next.push(e.path);
                    }
                }
            }
            looked.push(dir.display().to_string());
        }
        level = next;
    }
    anyhow::bail!(
        "{}: no TIMIT corpus found: {EXPECTED_LAYOUT}; looked in {}",
        path.display(),
        looked.join(", ")
    )
}

/// Walks the corpus at `root` (or found under it, see [`find_corpus_root`]) into the standard
/// splits (module docs). Listed speakers missing from `TEST` give warnings, not errors, so that a
/// partial corpus still trains; if no development speaker is present at all, validation uses
/// `holdout_speakers` training speakers chosen by `holdout_seed` (sorted, then shuffled with
/// ChaCha8), removed from the training set. Errors: no corpus, no training utterance, no core
/// test speaker present, a speaker in both lists, an utterance with audio but no `.PHN` or the
/// reverse, more hold-out speakers than the training set can spare, an unreadable directory.
pub fn split_corpus(
    root: &Path,
    lists: &SpeakerLists,
    holdout_seed: u64,
    holdout_speakers: usize,
) -> anyhow::Result<CorpusSplits> {
    let root = find_corpus_root(root)?;
    let upper = |v: &[String]| -> BTreeSet<String> {
        v.iter().map(|s| s.trim().to_ascii_uppercase()).collect()
    };
    let (core_set, dev_set) = (upper(&lists.core_test), upper(&lists.dev));
    if let Some(both) = core_set.intersection(&dev_set).next() {
        anyhow::bail!("speaker {both} is in both the core test and the development speaker lists");
    }
    let train_dir = child_dir(&root, "TRAIN")?.expect("find_corpus_root checked TRAIN");
    let test_dir = child_dir(&root, "TEST")?.expect("find_corpus_root checked TEST");
    let is_sa = |f: &Found| f.sentence.starts_with("SA");
    let train_found: Vec<Found> = walk_part(&train_dir)?
        .into_iter()
        .filter(|f| !is_sa(f))
        .collect();
    let test_found: Vec<Found> = walk_part(&test_dir)?
        .into_iter()
        .filter(|f| !is_sa(f))
        .collect();
    if train_found.is_empty() {
        anyhow::bail!(
            "{}: no training utterances (other than SA1/SA2); {EXPECTED_LAYOUT}",
            train_dir.display()
        );
    }
    let test_speakers: BTreeSet<&str> = test_found.iter().map(|f| f.speaker.as_str()).collect();
    let mut warnings = Vec::new();
    let mut missing = |set: &BTreeSet<String>, what: &str| -> usize {
        let gone: Vec<&str> = set
            .iter()
            .map(String::as_str)
            .filter(|s| !test_speakers.contains(s))
            .collect();
        if !gone.is_empty() {
            warnings.push(format!(
                "{}: {} of the {} {what} speakers not found: {}",
                test_dir.display(),
                gone.len(),
                set.len(),
                gone.join(" ")
            ));
        }
        set.len() - gone.len()
    };
    let core_present = missing(&core_set, "core test");
    let dev_present = missing(&dev_set, "development");
    if core_present == 0 {
        anyhow::bail!(
            "{}: none of the core test speakers is present under {} (expected speaker \
             directories {} under DR1..DR8); {EXPECTED_LAYOUT}",
            root.display(),
            test_dir.display(),
            core_set.iter().cloned().collect::<Vec<_>>().join(" ")
        );
    }
    let core_test = finish(
        test_found
            .iter()
            .filter(|f| core_set.contains(&f.speaker))
            .cloned(),
    )?;
    let (train, dev) = if dev_present > 0 {
        let dev = test_found
            .iter()
            .filter(|f| dev_set.contains(&f.speaker))
            .cloned();
        (finish(train_found.into_iter())?, finish(dev)?)
    } else {
        let mut speakers: Vec<String> = train_found
            .iter()
            .map(|f| f.speaker.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if holdout_speakers >= speakers.len() {
            anyhow::bail!(
                "{}: no development speaker present, and a hold-out of {holdout_speakers} \
                 training speakers would leave none of the {} for training",
                root.display(),
                speakers.len()
            );
        }
        speakers.shuffle(&mut ChaCha8Rng::seed_from_u64(holdout_seed));
        let held: BTreeSet<String> = speakers.into_iter().take(holdout_speakers).collect();
        warnings.push(if held.is_empty() {
            format!(
                "{}: no development speaker present and a hold-out of 0 speakers asked for: no \
                 validation set",
                test_dir.display()
            )
        } else {
            format!(
                "{}: no development speaker present: validating on {} training speakers held \
                 out with seed {holdout_seed}: {}",
                test_dir.display(),
                held.len(),
                held.iter().cloned().collect::<Vec<_>>().join(" ")
            )
        });
        let (dev, train): (Vec<Found>, Vec<Found>) = train_found
            .into_iter()
            .partition(|f| held.contains(&f.speaker));
        (finish(train.into_iter())?, finish(dev.into_iter())?)
    };
    for w in &warnings {
        crate::stderr::line!("warning: TIMIT: {w}");
    }
    Ok(CorpusSplits {
        train,
        dev,
        core_test,
        warnings,
    })
}

/// An utterance as found on disk, before checking that both of its files are there.
#[derive(Clone, Debug)]
struct Found {
    dialect: String,
    speaker: String,
    sentence: String,
    /// The speaker directory.
    dir: PathBuf,
    /// The file stem as spelled on disk (`sa1`, `SI1039`), to name a missing file.
    stem: String,
    /// Best audio file so far, with its preference rank (lower wins).
    audio: Option<(u8, PathBuf)>,
    phn: Option<(u8, PathBuf)>,
}

/// Turns found utterances into [`Utterance`]s sorted by id; a missing `.PHN` or audio file is an
/// error naming it.
fn finish(found: impl Iterator<Item = Found>) -> anyhow::Result<Vec<Utterance>> {
    let mut out = Vec::new();
    for f in found {
        // Name the missing file in the case style of the one that is there.
        let lower = f.stem.chars().any(|c| c.is_ascii_lowercase());
        let ext = |e: &str| {
            if lower {
                e.to_ascii_lowercase()
            } else {
                e.to_string()
            }
        };
        let (audio, phn) = match (f.audio, f.phn) {
            (Some((_, a)), Some((_, p))) => (a, p),
            (Some((_, a)), None) => anyhow::bail!(
                "{}: missing: the phone alignment of {} is not there",
                f.dir.join(format!("{}.{}", f.stem, ext("PHN"))).display(),
                a.display()
            ),
            (None, Some((_, p))) => anyhow::bail!(
                "{}: missing: the audio of {} is not there (also looked for .wav and .WAV.wav)",
                f.dir.join(format!("{}.{}", f.stem, ext("WAV"))).display(),
                p.display()
            ),
            (None, None) => unreachable!("walk_part keeps only stems with audio or .PHN"),
        };
        out.push(Utterance {
            id: format!("{}-{}-{}", f.dialect, f.speaker, f.sentence),
            speaker: f.speaker,
            dialect: f.dialect,
            sentence: f.sentence,
            audio,
            phn,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// All utterances (with audio or `.PHN`) under `TRAIN` or `TEST`: `DR<n>/<speaker>/<files>`.
/// Files outside speaker directories and directories not named `DR<n>` are ignored.
fn walk_part(part: &Path) -> anyhow::Result<Vec<Found>> {
    let mut out = Vec::new();
    for dr in list_dir(part)? {
        let is_dr = dr.name.len() > 2
            && dr.name[..2].eq_ignore_ascii_case("dr")
            && dr.name[2..].bytes().all(|b| b.is_ascii_digit());
        if !dr.is_dir || !is_dr {
            continue;
        }
        for spk in list_dir(&dr.path)? {
            if !spk.is_dir || spk.name.starts_with('.') {
                continue;
            }
            let mut utts: BTreeMap<String, Found> = BTreeMap::new();
            for file in list_dir(&spk.path)? {
                if file.is_dir {
                    continue;
                }
                let Some((stem, ext)) = file.name.split_once('.') else {
                    continue;
                };
                if stem.is_empty() {
                    continue; // hidden files such as macOS `._SA1.WAV`
                }
                // Preference ranks: exact upper-case names first (the LDC spelling).
                let (is_audio, rank) = match ext {
                    "WAV" => (true, 0),
                    _ if ext.eq_ignore_ascii_case("wav") => (true, 1),
                    _ if ext.eq_ignore_ascii_case("wav.wav") => (true, 2),
                    "PHN" => (false, 0),
                    _ if ext.eq_ignore_ascii_case("phn") => (false, 1),
                    _ => continue,
                };
                let f = utts
                    .entry(stem.to_ascii_uppercase())
                    .or_insert_with(|| Found {
                        dialect: dr.name.to_ascii_uppercase(),
                        speaker: spk.name.to_ascii_uppercase(),
                        sentence: stem.to_ascii_uppercase(),
                        dir: spk.path.clone(),
                        stem: stem.to_string(),
                        audio: None,
                        phn: None,
                    });
                let slot = if is_audio { &mut f.audio } else { &mut f.phn };
                if slot.as_ref().is_none_or(|(r, _)| rank < *r) {
                    *slot = Some((rank, file.path));
                }
            }
            out.extend(utts.into_values());
        }
    }
    Ok(out)
}

struct Entry {
    name: String,
    path: PathBuf,
    is_dir: bool,
}

/// The entries of `dir`, sorted by name (names that are not UTF-8 are skipped: no TIMIT name
/// needs it). Symbolic links to directories count as directories.
fn list_dir(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot list directory: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| anyhow::anyhow!("{}: cannot list directory: {e}", dir.display()))?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let path = e.path();
        out.push(Entry {
            is_dir: path.is_dir(),
            name,
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The sub-directory of `dir` called `name` in any case (the exact spelling wins if several).
fn child_dir(dir: &Path, name: &str) -> anyhow::Result<Option<PathBuf>> {
    let mut hits: Vec<Entry> = list_dir(dir)?
        .into_iter()
        .filter(|e| e.is_dir && e.name.eq_ignore_ascii_case(name))
        .collect();
    hits.sort_by_key(|e| e.name != name);
    Ok(hits.into_iter().next().map(|e| e.path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"").unwrap();
    }

    /// Eight SI/SX sentences per speaker, as in TIMIT, plus SA1/SA2.
    const SENTENCES: [&str; 10] = [
        "SA1", "SA2", "SI1000", "SI1001", "SI1002", "SX10", "SX11", "SX12", "SX13", "SX14",
    ];

    /// Writes speakers `(part, dialect, speaker)` with empty `.WAV`, `.PHN`, `.WRD`, `.TXT`
    /// files; `lower` spells every name in lower case (audio then as `.wav`).
    fn tree(root: &Path, speakers: &[(&str, &str, &str)], lower: bool) {
        for (part, dr, spk) in speakers {
            for sent in SENTENCES {
                for ext in ["WAV", "PHN", "WRD", "TXT"] {
                    let rel = format!("{part}/{dr}/{spk}/{sent}.{ext}");
                    let rel = if lower { rel.to_ascii_lowercase() } else { rel };
                    touch(&root.join(rel));
                }
            }
        }
    }

    fn standard_tree(root: &Path, lower: bool) {
        tree(
            root,
            &[
                ("TRAIN", "DR1", "FCJF0"),
                ("TRAIN", "DR1", "MDPK0"),
                ("TRAIN", "DR2", "MAEB0"),
                ("TEST", "DR1", "MDAB0"), // core
                ("TEST", "DR2", "FPAS0"), // core
                ("TEST", "DR1", "FAKS0"), // dev
                ("TEST", "DR1", "FDAC1"), // dev
                ("TEST", "DR3", "MXXX0"), // neither
            ],
            lower,
        );
    }

    fn ids(v: &[Utterance]) -> Vec<&str> {
        v.iter().map(|u| u.id.as_str()).collect()
    }

    fn check_standard(s: &CorpusSplits) {
        assert_eq!(s.train.len(), 3 * 8);
        assert_eq!(s.core_test.len(), 2 * 8);
        assert_eq!(s.dev.len(), 2 * 8);
        for u in s.train.iter().chain(&s.dev).chain(&s.core_test) {
            assert!(!u.sentence.starts_with("SA"), "{}", u.id);
            assert_eq!(u.id, format!("{}-{}-{}", u.dialect, u.speaker, u.sentence));
            assert_eq!(u.id, u.id.to_ascii_uppercase());
        }
        for v in [&s.train, &s.dev, &s.core_test] {
            let mut sorted = ids(v);
            sorted.sort();
            assert_eq!(sorted, ids(v));
        }
        assert_eq!(s.core_test[0].id, "DR1-MDAB0-SI1000");
        assert_eq!(s.train[0].id, "DR1-FCJF0-SI1000");
        assert!(s
            .dev
            .iter()
            .all(|u| u.speaker == "FAKS0" || u.speaker == "FDAC1"));
        // The standard lists are mostly absent here: one warning per list.
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(
            s.warnings[0].contains("22 of the 24 core test") && s.warnings[0].contains("MWBT0")
        );
        assert!(
            s.warnings[1].contains("48 of the 50 development") && s.warnings[1].contains("MRWS1")
        );
    }

    #[test]
    fn upper_case_layout() {
        let d = tempfile::tempdir().unwrap();
        standard_tree(d.path(), false);
        let s = split_corpus(d.path(), &SpeakerLists::default(), 0, 2).unwrap();
        check_standard(&s);
        let u = &s.core_test[0];
        assert_eq!(u.audio, d.path().join("TEST/DR1/MDAB0/SI1000.WAV"));
        assert_eq!(u.phn, d.path().join("TEST/DR1/MDAB0/SI1000.PHN"));
    }

    #[test]
    fn lower_case_layout_and_wav_variants() {
        let d = tempfile::tempdir().unwrap();
        standard_tree(d.path(), true);
        // A converted copy next to the original: the original wins; alone, it is used.
        let spk = d.path().join("train/dr1/fcjf0");
        touch(&spk.join("si1000.WAV.wav"));
        fs::remove_file(spk.join("si1001.wav")).unwrap();
        touch(&spk.join("si1001.WAV.wav"));
        // Junk is ignored.
        touch(&d.path().join("train/README"));
        touch(&d.path().join("train/dr1/notes.txt"));
        touch(&spk.join(".DS_Store"));
        touch(&spk.join("._si1000.wav"));
        fs::create_dir_all(d.path().join("train/misc/xyz")).unwrap();
        let s = split_corpus(d.path(), &SpeakerLists::default(), 0, 2).unwrap();
        check_standard(&s);
        let by_id = |id: &str| s.train.iter().find(|u| u.id == id).unwrap().clone();
        assert_eq!(by_id("DR1-FCJF0-SI1000").audio, spk.join("si1000.wav"));
        assert_eq!(by_id("DR1-FCJF0-SI1001").audio, spk.join("si1001.WAV.wav"));
        assert_eq!(by_id("DR1-FCJF0-SI1001").phn, spk.join("si1001.phn"));
    }

    #[test]
    fn hold_out_fallback_is_seeded_and_disjoint() {
        let d = tempfile::tempdir().unwrap();
        let train: Vec<String> = (0..6).map(|i| format!("MSYN{i}")).collect();
        let mut speakers: Vec<(&str, &str, &str)> =
            train.iter().map(|s| ("TRAIN", "DR1", s.as_str())).collect();
        speakers.push(("TEST", "DR1", "MDAB0"));
        tree(d.path(), &speakers, false);
        let lists = SpeakerLists::default();
        let a = split_corpus(d.path(), &lists, 7, 2).unwrap();
        let b = split_corpus(d.path(), &lists, 7, 2).unwrap();
        assert_eq!(a, b);
        let held: BTreeSet<&str> = a.dev.iter().map(|u| u.speaker.as_str()).collect();
        let kept: BTreeSet<&str> = a.train.iter().map(|u| u.speaker.as_str()).collect();
        assert_eq!((held.len(), kept.len()), (2, 4));
        assert!(held.is_disjoint(&kept));
        assert_eq!((a.dev.len(), a.train.len(), a.core_test.len()), (16, 32, 8));
        let w = a.warnings.last().unwrap();
        assert!(w.contains("held out with seed 7"), "{w}");
        assert!(held.iter().all(|s| w.contains(s)), "{w}");
        // Other seeds pick other speakers (some of them do).
        let picks: BTreeSet<Vec<String>> = (0..8)
            .map(|seed| {
                let s = split_corpus(d.path(), &lists, seed, 2).unwrap();
                let mut v: Vec<String> = s.dev.iter().map(|u| u.speaker.clone()).collect();
                v.dedup();
                v
            })
            .collect();
        assert!(picks.len() > 1);
        // No hold-out asked for: an empty validation set, said so.
        let z = split_corpus(d.path(), &lists, 7, 0).unwrap();
        assert!(z.dev.is_empty() && z.train.len() == 48);
        assert!(z.warnings.last().unwrap().contains("no validation set"));
        // Holding out every training speaker is an error.
        let e = split_corpus(d.path(), &lists, 7, 6)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hold-out of 6") && e.contains("none of the 6"),
            "{e}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        standard_tree(d.path(), false);
        // SA sentences are excluded, so their missing files do not matter.
        fs::remove_file(d.path().join("TRAIN/DR1/FCJF0/SA1.PHN")).unwrap();
        assert!(split_corpus(d.path(), &SpeakerLists::default(), 0, 2).is_ok());
        fs::remove_file(d.path().join("TRAIN/DR1/FCJF0/SX12.PHN")).unwrap();
        let e = split_corpus(d.path(), &SpeakerLists::default(), 0, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("FCJF0/SX12.PHN") && e.contains("missing"), "{e}");
        touch(&d.path().join("TRAIN/DR1/FCJF0/SX12.PHN"));
        fs::remove_file(d.path().join("TEST/DR1/MDAB0/SI1001.WAV")).unwrap();
        let e = split_corpus(d.path(), &SpeakerLists::default(), 0, 2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MDAB0/SI1001.WAV") && e.contains("missing"),
            "{e}"
        );
    }

    #[test]
    fn missing_file_in_lower_case_is_named_in_lower_case() {
        let d = tempfile::tempdir().unwrap();
        standard_tree(d.path(), true);
        fs::remove_file(d.path().join("test/dr2/fpas0/sx10.phn")).unwrap();
        let e = split_corpus(d.path(), &SpeakerLists::default(), 0, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fpas0/sx10.phn"), "{e}");
    }

    #[test]
    fn no_core_speaker_and_overlapping_lists_are_errors() {
        let d = tempfile::tempdir().unwrap();
        tree(
            d.path(),
            &[("TRAIN", "DR1", "FCJF0"), ("TEST", "DR1", "FAKS0")],
            false,
        );
        let e = split_corpus(d.path(), &SpeakerLists::default(), 0, 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("core test") && e.contains("MDAB0") && e.contains("FMLD0"),
            "{e}"
        );
        assert!(e.contains(&d.path().display().to_string()), "{e}");
        let lists = SpeakerLists {
            core_test: vec!["faks0".into()],
            dev: vec!["FAKS0".into()],
        };
        let e = split_corpus(d.path(), &lists, 0, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("FAKS0") && e.contains("both"), "{e}");
        // Custom lists, compared case-insensitively.
        let lists = SpeakerLists {
            core_test: vec!["faks0".into()],
            dev: vec![],
        };
        let s = split_corpus(d.path(), &lists, 0, 0).unwrap();
        assert_eq!((s.core_test.len(), s.train.len()), (8, 8));
    }

    #[test]
    fn no_training_utterance_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path(), &[("TEST", "DR1", "MDAB0")], false);
        fs::create_dir_all(d.path().join("TRAIN/DR1")).unwrap();
        let e = split_corpus(d.path(), &SpeakerLists::default(), 0, 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("TRAIN") && e.contains("no training utterances"),
            "{e}"
        );
    }

    #[test]
    fn root_detection() {
        let d = tempfile::tempdir().unwrap();
        // Nothing there: the error says what is expected and where it looked.
        let e = find_corpus_root(d.path()).unwrap_err().to_string();
        assert!(e.contains("expected TRAIN/ and TEST/ directories"), "{e}");
        assert!(e.contains(&d.path().display().to_string()), "{e}");
        let e = find_corpus_root(&d.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("LDC TIMIT layout"), "{e}");
        // Only TRAIN is not enough.
        fs::create_dir_all(d.path().join("data/TIMIT/TRAIN")).unwrap();
        let e = find_corpus_root(d.path()).unwrap_err().to_string();
        assert!(e.contains("data/TIMIT"), "{e}");
        fs::create_dir_all(d.path().join("data/TIMIT/TEST")).unwrap();
        assert_eq!(
            find_corpus_root(d.path()).unwrap(),
            d.path().join("data/TIMIT")
        );
        let t = d.path().join("data/TIMIT");
        assert_eq!(find_corpus_root(&t).unwrap(), t);
        let l = tempfile::tempdir().unwrap();
        fs::create_dir_all(l.path().join("timit/train")).unwrap();
        fs::create_dir_all(l.path().join("timit/test")).unwrap();
        assert_eq!(find_corpus_root(l.path()).unwrap(), l.path().join("timit"));
    }
}
