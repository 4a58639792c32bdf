//! The TIMIT feature cache: the first run walks the corpus, reads every utterance's audio and
//! alignment, computes its MFCC features and frame labels (with a progress bar) and writes them
//! to one binary file; later runs with the same corpus and feature settings load that file in
//! seconds.
//!
//! The file name is keyed by the corpus path, the feature settings and the split settings
//! (`timit-<hash>.features` in the cache directory). Inside, a JSON header repeats that key and
//! adds a fingerprint of the corpus files (relative path, size, modification time of every audio
//! and alignment file used) and a checksum of the payload. A file whose key or fingerprint does
//! not match (the corpus changed: stale), or that is truncated or fails its checksum (corrupt),
//! is reported on stderr and rebuilt, never used. The file is written to a temporary name and
//! renamed, so an interrupted run never leaves a half-written cache behind.
//!
//! Layout: `LSNNTIMF` (8 bytes), header length (u64 LE), header (JSON), then the payload: per
//! utterance in header order, its features (f32 LE, [frames, n_features], raw: not z-scored)
//! and its labels (i8, one per frame: a phone index of [`super::phones::PHONES_61`], or −1 for a
//! frame no segment covers).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::progress::progress_bar;
use anyhow::{bail, Context as _};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::alignment::{frame_labels, read_phn};
use super::audio::read_audio;
use super::corpus::{find_corpus_root, split_corpus, CorpusSplits, SpeakerLists, Utterance};
use super::mfcc::{MfccExtractor, MfccSettings};

const MAGIC: &[u8; 8] = b"LSNNTIMF";
/// Bumped whenever the layout or the meaning of the cached values changes.
const FORMAT_VERSION: u32 = 1;

/// Which corpus, split and features a run asks for.
#[derive(Clone, Debug)]
pub struct FeatureRequest {
    /// The corpus as the user named it (`data.path`, `TIMIT_DIR`).
    pub corpus: PathBuf,
    pub lists: SpeakerLists,
    /// Seeded fallback when no development speaker is present (see `corpus::split_corpus`).
    pub holdout_seed: u64,
    pub holdout_speakers: usize,
    pub settings: MfccSettings,
    pub cache_dir: PathBuf,
}

/// One utterance's features and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct UtteranceFeatures {
    pub id: String,
    pub speaker: String,
    /// [frames, n_features], raw (z-scoring happens at batching with the training statistics).
    pub features: Array2<f32>,
    /// Phone index (61 phones) per frame, −1 = not covered by the alignment.
    pub labels: Vec<i8>,
}

impl UtteranceFeatures {
    pub fn frames(&self) -> usize {
        self.labels.len()
    }
}

/// Every split's features, with the training set's per-feature mean and standard deviation.
#[derive(Clone, Debug)]
pub struct TimitFeatures {
    pub train: Vec<UtteranceFeatures>,
    pub dev: Vec<UtteranceFeatures>,
    pub core_test: Vec<UtteranceFeatures>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Missing speakers and the like, from walking the corpus.
    pub warnings: Vec<String>,
    pub cache_file: PathBuf,
    /// True when the cache was read, false when the features were extracted now.
    pub from_cache: bool,
}

/// What names a cache file: equal keys mean the same extraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CacheKey {
    format_version: u32,
    corpus_root: String,
    settings: MfccSettings,
    core_test_speakers: Vec<String>,
    dev_speakers: Vec<String>,
    holdout_seed: u64,
    holdout_speakers: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CachedUtterance {
    split: String,
    id: String,
    speaker: String,
    frames: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CacheHeader {
    key: CacheKey,
    fingerprint: String,
    n_features: usize,
    utterances: Vec<CachedUtterance>,
    mean: Vec<f32>,
    std: Vec<f32>,
    warnings: Vec<String>,
    payload_len: u64,
    payload_checksum: String,
}

/// 64-bit FNV-1a: a fast checksum that catches truncation and bit rot (not an adversary).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

const SPLITS: [&str; 3] = ["train", "dev", "core_test"];

fn split_lists(s: &CorpusSplits) -> [&Vec<Utterance>; 3] {
    [&s.train, &s.dev, &s.core_test]
}

/// Relative path, size and modification time of every file the extraction reads.
fn fingerprint(root: &Path, splits: &CorpusSplits) -> anyhow::Result<String> {
    let mut h = Fnv::new();
    for (name, list) in SPLITS.iter().zip(split_lists(splits)) {
        h.update(name.as_bytes());
        for u in list {
            for path in [&u.audio, &u.phn] {
                let meta = std::fs::metadata(path)
                    .with_context(|| format!("{}: cannot read file metadata", path.display()))?;
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let rel = path.strip_prefix(root).unwrap_or(path);
                h.update(rel.to_string_lossy().as_bytes());
                h.update(&meta.len().to_le_bytes());
                h.update(&modified.to_le_bytes());
            }
        }
    }
    Ok(h.hex())
}

fn cache_key(root: &Path, req: &FeatureRequest) -> CacheKey {
    let upper = |v: &[String]| v.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
    CacheKey {
        format_version: FORMAT_VERSION,
        corpus_root: root.display().to_string(),
        settings: req.settings.clone(),
        core_test_speakers: upper(&req.lists.core_test),
        dev_speakers: upper(&req.lists.dev),
        holdout_seed: req.holdout_seed,
        holdout_speakers: req.holdout_speakers,
    }
}

/// The cache file for a key: `timit-<hash of the key>.features`.
fn cache_path(dir: &Path, key: &CacheKey) -> PathBuf {
    let mut h = Fnv::new();
    h.update(
        serde_json::to_string(key)
            .expect("the key serialises")
            .as_bytes(),
    );
    dir.join(format!("timit-{}.features", h.hex()))
}

/// Loads the features of `req` from its cache file, or extracts them (and writes the cache).
pub fn load_or_extract(req: &FeatureRequest) -> anyhow::Result<TimitFeatures> {
    req.settings
        .validate()
        .map_err(|e| anyhow::anyhow!("data.mfcc: {e}"))?;
    let root = find_corpus_root(&req.corpus)?;
    let root = root.canonicalize().unwrap_or(root);
    let splits = split_corpus(&root, &req.lists, req.holdout_seed, req.holdout_speakers)?;
    let fp = fingerprint(&root, &splits)?;
    let key = cache_key(&root, req);
    let path = cache_path(&req.cache_dir, &key);
    if path.exists() {
        match read_cache(&path, &key, &fp) {
            Ok(mut f) => {
                f.cache_file = path;
                return Ok(f);
            }
            Err(why) => {
                crate::stderr::line!("{why:#}: cannot be used, extracting the features again")
            }
        }
    }
    let features = extract(&splits, &req.settings)?;
    let (mean, std) = statistics(&features[0], req.settings.n_features());
    let [train, dev, core_test] = features;
    let out = TimitFeatures {
        train,
        dev,
        core_test,
        mean,
        std,
        warnings: splits.warnings.clone(),
        cache_file: path.clone(),
        from_cache: false,
    };
    write_cache(&path, &key, &fp, &out)?;
    Ok(out)
}

/// Features and labels of one utterance.
fn utterance_features(
    u: &Utterance,
    extractor: &MfccExtractor,
    settings: &MfccSettings,
) -> anyhow::Result<UtteranceFeatures> {
    let audio = read_audio(&u.audio)?;
    if audio.sample_rate != settings.sample_rate {
        bail!(
            "{}: sample rate {} Hz, but data.mfcc.sample_rate is {} Hz",
            u.audio.display(),
            audio.sample_rate,
            settings.sample_rate
        );
    }
    let segments = read_phn(&u.phn)?;
    let features = extractor.features(&audio.samples);
    let labels = frame_labels(
        &segments,
        audio.samples.len(),
        features.nrows(),
        settings.window_len(),
        settings.hop_len(),
        &u.phn,
    )?;
    Ok(UtteranceFeatures {
        id: u.id.clone(),
        speaker: u.speaker.clone(),
        features,
        labels: labels.iter().map(|&l| l as i8).collect(),
    })
}

fn extract(
    splits: &CorpusSplits,
    settings: &MfccSettings,
) -> anyhow::Result<[Vec<UtteranceFeatures>; 3]> {
    let extractor = MfccExtractor::new(settings).map_err(|e| anyhow::anyhow!("data.mfcc: {e}"))?;
    let total: usize = split_lists(splits).iter().map(|l| l.len()).sum();
    let mut bar = progress_bar(total as u64, "MFCC features", "utterances");
    let mut out: [Vec<UtteranceFeatures>; 3] = Default::default();
    for (dst, list) in out.iter_mut().zip(split_lists(splits)) {
        for u in list {
            dst.push(utterance_features(u, &extractor, settings)?);
            bar.inc(1);
        }
    }
    bar.finish();
    Ok(out)
}

/// Per-feature mean and standard deviation over every training frame (a constant feature gets
/// std 1, so z-scoring leaves it at 0 instead of dividing by 0).
fn statistics(train: &[UtteranceFeatures], n_features: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f64; n_features];
    let mut sum_sq = vec![0.0f64; n_features];
    let mut count = 0usize;
    for u in train {
        for row in u.features.rows() {
            for (k, &v) in row.iter().enumerate() {
                sum[k] += v as f64;
                sum_sq[k] += (v as f64) * (v as f64);
            }
            count += 1;
        }
    }
    let n = count.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sum_sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let var = (s / n - m * m).max(0.0);
            if var.sqrt() > 1e-6 {
                var.sqrt() as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

fn payload_bytes(u: &UtteranceFeatures) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(u.features.len() * 4 + u.labels.len());
    for v in u.features.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend(u.labels.iter().map(|&l| l as u8));
    bytes
}

fn write_cache(path: &Path, key: &CacheKey, fp: &str, f: &TimitFeatures) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the feature cache directory {}",
            dir.display()
        )
    })?;
    let all = || f.train.iter().chain(&f.dev).chain(&f.core_test);
    let mut checksum = Fnv::new();
    let mut payload_len = 0u64;
    for u in all() {
        let b = payload_bytes(u);
        checksum.update(&b);
        payload_len += b.len() as u64;
    }
    let mut utterances = Vec::new();
    for (name, list) in SPLITS.iter().zip([&f.train, &f.dev, &f.core_test]) {
        for u in list {
            utterances.push(CachedUtterance {
                split: name.to_string(),
                id: u.id.clone(),
                speaker: u.speaker.clone(),
                frames: u.frames(),
            });
        }
    }
    let header = CacheHeader {
        key: key.clone(),
        fingerprint: fp.to_string(),
        n_features: key.settings.n_features(),
        utterances,
        mean: f.mean.clone(),
        std: f.std.clone(),
        warnings: f.warnings.clone(),
        payload_len,
        payload_checksum: checksum.hex(),
    };
    let header = serde_json::to_vec(&header)?;
    let tmp = path.with_extension("features.tmp");
    let write = || -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(&tmp)?);
        w.write_all(MAGIC)?;
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(&header)?;
        for u in all() {
            w.write_all(&payload_bytes(u))?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    write().with_context(|| format!("writing the feature cache {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Reads a cache file; any mismatch or damage is an error that names the file and says what
/// is wrong.
fn read_cache(path: &Path, key: &CacheKey, fp: &str) -> anyhow::Result<TimitFeatures> {
    let within = || format!("feature cache {}", path.display());
    let file = File::open(path).with_context(within)?;
    let len = file.metadata().with_context(within)?.len();
    parse_cache(BufReader::new(file), len, path, key, fp).with_context(within)
}

/// Writes the cache file `path` of `features`, as extracted from the corpus at `root` (whose
/// files have fingerprint `fp`) for `req`. For tests and tools; runs call [`load_or_extract`].
pub fn write_cache_file(
    path: &Path,
    req: &FeatureRequest,
    root: &Path,
    fp: &str,
    features: &TimitFeatures,
) -> anyhow::Result<()> {
    write_cache(path, &cache_key(root, req), fp, features)
}

/// Parses `bytes`, the content of the cache file `path` (only named in errors), for `req`, the
/// corpus at `root` and the fingerprint `fp`; every error names the file. Every size in the
/// file is checked against the bytes there are before anything is allocated.
pub fn parse_cache_file(
    path: &Path,
    bytes: &[u8],
    req: &FeatureRequest,
    root: &Path,
    fp: &str,
) -> anyhow::Result<TimitFeatures> {
    parse_cache(bytes, bytes.len() as u64, path, &cache_key(root, req), fp)
        .with_context(|| format!("feature cache {}", path.display()))
}

/// The cache in `r`, a file of `file_len` bytes.
fn parse_cache(
    mut r: impl Read,
    file_len: u64,
    path: &Path,
    key: &CacheKey,
    fp: &str,
) -> anyhow::Result<TimitFeatures> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .context("truncated before its header")?;
    if &magic != MAGIC {
        bail!("not an lsnn-gpu feature cache (bad magic)");
    }
    let mut len = [0u8; 8];
    r.read_exact(&mut len).context("truncated header")?;
    let len = u64::from_le_bytes(len);
    if len > file_len.saturating_sub(16) {
        bail!("corrupt: header length {len}, but the file has {file_len} bytes");
    }
    let mut header = vec![0u8; len as usize];
    r.read_exact(&mut header).context("truncated header")?;
    let header: CacheHeader = serde_json::from_slice(&header).context("corrupt header")?;
    if &header.key != key {
        bail!("written for other settings or another corpus path");
    }
    if header.fingerprint != fp {
        bail!("stale: the corpus files changed since it was written");
    }
    let n_feat = header.n_features;
    if n_feat != key.settings.n_features()
        || header.mean.len() != n_feat
        || header.std.len() != n_feat
    {
        bail!("corrupt: feature count does not match its settings");
    }
    // In u128: a corrupt frame count cannot overflow, and the payload must be in the file
    // before a buffer of its size is allocated.
    let expected: u128 = header
        .utterances
        .iter()
        .map(|u| u.frames as u128 * (n_feat as u128 * 4 + 1))
        .sum();
    if expected != header.payload_len as u128 {
        bail!("corrupt: the header's utterances do not add up to its payload length");
    }
    if header.payload_len != file_len - 16 - len {
        bail!(
            "corrupt: the header announces a {}-byte payload, the file holds {} bytes after it",
            header.payload_len,
            file_len - 16 - len
        );
    }
    let mut checksum = Fnv::new();
    let mut out: [Vec<UtteranceFeatures>; 3] = Default::default();
    for u in &header.utterances {
        let mut feat = vec![0u8; u.frames * n_feat * 4];
        let mut labels = vec![0u8; u.frames];
        r.read_exact(&mut feat)
            .and_then(|_| r.read_exact(&mut labels))
            .with_context(|| format!("truncated at utterance {}", u.id))?;
        checksum.update(&feat);
        checksum.update(&labels);
        let values: Vec<f32> = feat
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let split = SPLITS
            .iter()
            .position(|s| *s == u.split)
            .with_context(|| format!("corrupt: unknown split {:?}", u.split))?;
        out[split].push(UtteranceFeatures {
            id: u.id.clone(),
            speaker: u.speaker.clone(),
            features: Array2::from_shape_vec((u.frames, n_feat), values)
                .expect("frames × features values"),
            labels: labels.iter().map(|&l| l as i8).collect(),
        });
    }
    let mut rest = [0u8; 1];
    if r.read(&mut rest)? != 0 {
        bail!("corrupt: bytes after the payload");
    }
    if checksum.hex() != header.payload_checksum {
        bail!("corrupt: payload checksum mismatch");
    }
    if let Some(bad) = out
        .iter()
        .flatten()
        .flat_map(|u| u.labels.iter())
        .find(|&&l| l < -1 || l as i32 >= super::phones::PHONES_61.len() as i32)
    {
        bail!("corrupt: label {bad}");
    }
    let [train, dev, core_test] = out;
    Ok(TimitFeatures {
        train,
        dev,
        core_test,
        mean: header.mean,
        std: header.std,
        warnings: header.warnings,
        cache_file: path.to_path_buf(),
        from_cache: true,
    })
}
