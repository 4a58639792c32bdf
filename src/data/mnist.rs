//! MNIST loader: the four IDX files of the MNIST database, each plain or gzip-compressed.
//!
//! [`load_mnist`] reads, from one directory,
//!
//! | file | content |
//! | --- | --- |
//! | `train-images-idx3-ubyte` | training images, IDX magic `0x00000803`, n × 28 × 28 `u8` |
//! | `train-labels-idx1-ubyte` | their labels, IDX magic `0x00000801`, n `u8` in 0..=9 |
//! | `t10k-images-idx3-ubyte` | test images |
//! | `t10k-labels-idx1-ubyte` | their labels |
//!
//! each either as named or with a `.gz` suffix (gzip; the plain file wins when both exist, and a
//! `.gz` file must start with the gzip magic bytes `1f 8b`). Every check failure is a
//! [`DataError`] whose `Display` names the file and what is wrong; nothing here panics on bad
//! input. [`split_validation`] holds out a seeded random validation set from the training set.
//!
//! Gzip is read with `flate2`, the well-kept standard gzip/deflate crate of the Rust ecosystem
//! (pure-Rust `miniz_oxide` backend by default).

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Image side in pixels.
pub const ROWS: usize = 28;
/// Image side in pixels.
pub const COLS: usize = 28;
/// Pixels per image (28 × 28).
pub const IMAGE_LEN: usize = ROWS * COLS;
/// Number of classes; labels are `0..NUM_CLASSES`.
pub const NUM_CLASSES: usize = 10;

/// IDX magic number of an image file (`u8` data, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of a label file (`u8` data, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The four standard file names (without `.gz`), in the order train images, train labels,
/// test images, test labels.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Decompressed size above which a `.gz` file is refused (the full MNIST training images are
/// 47 MB), so that a corrupt or hostile file cannot exhaust memory.
const MAX_DECOMPRESSED: u64 = 512 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A set of MNIST digits: `images` holds `len()` images of 28 × 28 `u8` pixels each, row-major,
/// one after another; `labels[i]` (0..=9) is the digit of image `i`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MnistSet {
    /// `len() * 784` bytes, image `i` at `i*784 .. (i+1)*784`, row-major 28 × 28.
    pub images: Vec<u8>,
    /// One label 0..=9 per image.
    pub labels: Vec<u8>,
}

impl MnistSet {
    /// Number of digits.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` if the set holds no digit.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels (row-major 28 × 28) of image `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_LEN..(i + 1) * IMAGE_LEN]
    }

    /// The digits at `indices`, in that order (repeats allowed). Panics if an index is
    /// `>= len()`.
    pub fn subset(&self, indices: &[usize]) -> MnistSet {
        let mut images = Vec::with_capacity(indices.len() * IMAGE_LEN);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        MnistSet { images, labels }
    }
}

/// The training and test sets of MNIST as read by [`load_mnist`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistData {
    /// From `train-images-idx3-ubyte` / `train-labels-idx1-ubyte`.
    pub train: MnistSet,
    /// From `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`.
    pub test: MnistSet,
}

/// Everything that can go wrong loading MNIST. The `Display` of each variant names the file (or
/// directory) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data directory does not exist or is not a directory.
    #[error(
        "{}: MNIST data directory not found (expected it to hold {})",
        dir.display(),
        expected_list()
    )]
    MissingDir { dir: PathBuf },
    /// Some of the four files are absent (neither plain nor `.gz`).
    #[error(
        "{}: missing MNIST file(s) {} (expected {} in this directory)",
        dir.display(),
        missing.join(", "),
        expected_list()
    )]
    MissingFiles {
        dir: PathBuf,
        /// The base names (without `.gz`) found neither plain nor gzipped.
        missing: Vec<String>,
    },
    /// The file exists but could not be read. (`error` is in the message and not a
    /// `source()`, so that a printed chain does not repeat it.)
    #[error("{}: cannot read: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The name ends in `.gz` but the content does not start with the gzip magic bytes.
    #[error(
        "{}: named .gz but is not gzip data (first bytes {found}, expected 1f 8b)",
        path.display()
    )]
    NotGzip { path: PathBuf, found: String },
    /// The gzip stream is corrupt (bad deflate data, CRC mismatch, cut short, …).
    #[error("{}: corrupt gzip data: {error}", path.display())]
    Gzip {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The gzip stream decompresses to more than the size limit.
    #[error(
        "{}: gzip data decompresses to more than {limit} bytes; not an MNIST file",
        path.display()
    )]
    TooLarge { path: PathBuf, limit: u64 },
    /// Fewer bytes than the IDX header needs.
    #[error(
        "{}: truncated: {len} bytes, shorter than the {header}-byte IDX header",
        path.display()
    )]
    ShortHeader {
        path: PathBuf,
        len: usize,
        header: usize,
    },
    /// The IDX magic number is not the one expected for this kind of file.
    #[error(
        "{}: wrong IDX magic number {found:#010x}, expected {expected:#010x} ({what}){hint}",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        /// "image file" or "label file".
        what: &'static str,
        /// Extra explanation, e.g. that the data looks gzip-compressed; empty or starting with
        /// "; ".
        hint: String,
    },
    /// Image dimensions other than 28 × 28.
    #[error(
        "{}: wrong image dimensions {rows}x{cols}, expected 28x28",
        path.display()
    )]
    BadDims { path: PathBuf, rows: u32, cols: u32 },
    /// Fewer payload bytes than the header announces.
    #[error(
        "{}: truncated: header says {what} ({needed} bytes) but only {found} bytes follow",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        /// e.g. "8000 images of 28x28" or "8000 labels".
        what: String,
        needed: u64,
        found: u64,
    },
    /// More payload bytes than the header announces.
    #[error(
        "{}: {extra} trailing bytes after the {needed}-byte payload ({what}) the header announces",
        path.display()
    )]
    Trailing {
        path: PathBuf,
        what: String,
        needed: u64,
        extra: u64,
    },
    /// A label outside 0..=9.
    #[error(
        "{}: label {index} is {value}, outside 0..=9{more}",
        path.display()
    )]
    BadLabel {
        path: PathBuf,
        /// Index of the first bad label.
        index: usize,
        value: u8,
        /// e.g. " (and 3 more bad labels)"; empty when this is the only one.
        more: String,
    },
    /// The image file and the label file of a pair hold different counts.
    #[error(
        "{}: {n_images} images, but {} has {n_labels} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },
    /// [`split_validation`] asked for a hold-out that leaves no training digit.
    #[error(
        "validation split of {n_validation} digits is impossible: the training set has only \
         {n_train} (the hold-out must be smaller)"
    )]
    SplitTooLarge { n_validation: usize, n_train: usize },
}

impl DataError {
    /// The file (or directory) the error is about; for a count mismatch, the image file.
    pub fn path(&self) -> Option<&Path> {
        use DataError::*;
        match self {
            MissingDir { dir } | MissingFiles { dir, .. } => Some(dir),
            Io { path, .. }
            | NotGzip { path, .. }
            | Gzip { path, .. }
            | TooLarge { path, .. }
            | ShortHeader { path, .. }
            | BadMagic { path, .. }
            | BadDims { path, .. }
            | Truncated { path, .. }
            | Trailing { path, .. }
            | BadLabel { path, .. } => Some(path),
            CountMismatch { images, .. } => Some(images),
            SplitTooLarge { .. } => None,
        }
    }
}

fn expected_list() -> String {
    let mut s = String::new();
    for (i, name) in FILE_NAMES.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{name}[.gz]");
    }
    s
}

/// Loads MNIST from `dir`: the four standard IDX files, each plain or `.gz` (plain preferred).
/// See the module docs for the checks made.
pub fn load_mnist(dir: &Path) -> Result<MnistData, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            dir: dir.to_path_buf(),
        });
    }
    let mut paths = Vec::with_capacity(4);
    let mut missing = Vec::new();
    for name in FILE_NAMES {
        match find_file(dir, name) {
            Some(p) => paths.push(p),
            None => missing.push(name.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(DataError::MissingFiles {
            dir: dir.to_path_buf(),
            missing,
        });
    }
    let train = load_pair(&paths[0], &paths[1])?;
    let test = load_pair(&paths[2], &paths[3])?;
    Ok(MnistData { train, test })
}

/// `dir/name` if it is a file, else `dir/name.gz` if that is, else `None`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Some(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// Reads an image file and a label file and checks they agree in count.
fn load_pair(images_path: &Path, labels_path: &Path) -> Result<MnistSet, DataError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    let n_images = images.len() / IMAGE_LEN;
    if n_images != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            n_images,
            n_labels: labels.len(),
        });
    }
    Ok(MnistSet { images, labels })
}

/// The file's bytes, decompressed if its name ends in `.gz`.
fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    decode(path, raw)
}

/// `raw`, the content of the file `path`, decompressed if the name ends in `.gz`.
fn decode(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    if !is_gz {
        return Ok(raw);
    }
    if raw.len() < 2 || raw[..2] != GZIP_MAGIC {
        let found = raw
            .iter()
            .take(2)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(DataError::NotGzip {
            path: path.to_path_buf(),
            found: if found.is_empty() {
                "(empty file)".to_string()
            } else {
                found
            },
        });
    }
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(raw.as_slice());
    decoder
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|error| DataError::Gzip {
            path: path.to_path_buf(),
            error,
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_DECOMPRESSED,
        });
    }
    Ok(out)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks the header length and magic number; returns the big-endian dimension words.
fn check_header(
    path: &Path,
    bytes: &[u8],
    expected: u32,
    what: &'static str,
    n_dims: usize,
) -> Result<Vec<u32>, DataError> {
    let header = 4 + 4 * n_dims;
    // Check the magic as soon as 4 bytes are there, so a wrong kind of file is reported as
    // such rather than as "truncated".
    if bytes.len() >= 4 {
        let found = be_u32(bytes, 0);
        if found != expected {
            let hint = if bytes[..2] == GZIP_MAGIC {
                "; the data looks gzip-compressed: name the file with a .gz suffix".to_string()
            } else if found == IMAGES_MAGIC || found == LABELS_MAGIC {
                let other = if found == IMAGES_MAGIC {
                    "an image file"
                } else {
                    "a label file"
                };
                format!("; this is {other}")
            } else {
                String::new()
            };
            return Err(DataError::BadMagic {
                path: path.to_path_buf(),
                found,
                expected,
                what,
                hint,
            });
        }
    }
    if bytes.len() < header {
        return Err(DataError::ShortHeader {
            path: path.to_path_buf(),
            len: bytes.len(),
            header,
        });
    }
    Ok((0..n_dims).map(|d| be_u32(bytes, 4 + 4 * d)).collect())
}

/// Checks that exactly `needed` payload bytes follow the `header`.
fn check_payload(
    path: &Path,
    bytes: &[u8],
    header: usize,
    needed: u64,
    what: String,
) -> Result<(), DataError> {
    let found = (bytes.len() - header) as u64;
    if found < needed {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            what,
            needed,
            found,
        });
    }
    if found > needed {
        return Err(DataError::Trailing {
            path: path.to_path_buf(),
            what,
            needed,
            extra: found - needed,
        });
    }
    Ok(())
}

/// Reads and checks an IDX image file; returns the `n * 784` pixel bytes.
fn read_images(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_images(path, read_bytes(path)?)
}

/// Checks the content of an IDX image file as read from `path` (decompressed if the name ends
/// in `.gz`, which `path` only names in errors); returns the `n * 784` pixel bytes. The sizes
/// of the header are checked against the bytes there are before anything is allocated.
pub fn parse_idx_images(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    parse_images(path, decode(path, raw)?)
}

/// As [`parse_idx_images`], for an IDX label file; returns the `n` labels.
pub fn parse_idx_labels(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    parse_labels(path, decode(path, raw)?)
}

fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let dims = check_header(path, &bytes, IMAGES_MAGIC, "image file", 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows as usize != ROWS || cols as usize != COLS {
        return Err(DataError::BadDims {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    let needed = n as u64 * IMAGE_LEN as u64;
    let what = format!("{n} images of {ROWS}x{COLS}");
    check_payload(path, &bytes, 16, needed, what)?;
    bytes.drain(..16);
    Ok(bytes)
}

/// Reads and checks an IDX label file; returns the `n` labels.
fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_labels(path, read_bytes(path)?)
}

fn parse_labels(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let dims = check_header(path, &bytes, LABELS_MAGIC, "label file", 1)?;
    let n = dims[0];
    check_payload(path, &bytes, 8, n as u64, format!("{n} labels"))?;
    bytes.drain(..8);
    let mut bad = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &v)| v as usize >= NUM_CLASSES);
    if let Some((index, &value)) = bad.next() {
        let rest = bad.count();
        let more = if rest == 0 {
            String::new()
        } else {
            format!(" (and {rest} more bad labels)")
        };
        return Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            value,
            more,
        });
    }
    Ok(bytes)
}

/// Holds out `n_validation` digits of `train`, chosen at random with a ChaCha8 generator seeded
/// by `seed` (the same seed gives the same split); returns `(train_rest, validation)`. Both keep
/// the original order of `train`. Errors if `n_validation >= train.len()` (nothing would be
/// left to train on).
pub fn split_validation(
    train: &MnistSet,
    n_validation: usize,
    seed: u64,
) -> Result<(MnistSet, MnistSet), DataError> {
    if n_validation >= train.len() {
        return Err(DataError::SplitTooLarge {
            n_validation,
            n_train: train.len(),
        });
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    order.shuffle(&mut rng);
    let (val, rest) = order.split_at_mut(n_validation);
    val.sort_unstable();
    rest.sort_unstable();
    Ok((train.subset(rest), train.subset(val)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn assets() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist-10k")
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn idx_images(n: u32, rows: u32, cols: u32, fill: u8) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        b.extend_from_slice(&n.to_be_bytes());
        b.extend_from_slice(&rows.to_be_bytes());
        b.extend_from_slice(&cols.to_be_bytes());
        b.resize(16 + (n * rows * cols) as usize, fill);
        b
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    /// A tempdir holding a small valid plain data set: 5 train and 3 test digits.
    fn small_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(FILE_NAMES[0]), idx_images(5, 28, 28, 7)).unwrap();
        std::fs::write(d.join(FILE_NAMES[1]), idx_labels(&[0, 1, 2, 3, 9])).unwrap();
        std::fs::write(d.join(FILE_NAMES[2]), idx_images(3, 28, 28, 9)).unwrap();
        std::fs::write(d.join(FILE_NAMES[3]), idx_labels(&[4, 5, 6])).unwrap();
        dir
    }

    /// Replaces `name` in a fresh valid set by `content` and returns the load error text.
    fn error_with(name: &str, content: &[u8]) -> (tempfile::TempDir, String) {
        let dir = small_dir();
        std::fs::write(dir.path().join(name), content).unwrap();
        let err = load_mnist(dir.path()).expect_err("broken file must not load");
        let msg = err.to_string();
        (dir, msg)
    }

    fn assert_names(msg: &str, file: &str, problem: &str) {
        assert!(msg.contains(file), "message does not name {file}: {msg}");
        assert!(
            msg.contains(problem),
            "message does not say {problem:?}: {msg}"
        );
    }

    #[test]
    fn loads_bundled_subset() {
        let data = load_mnist(&assets()).unwrap();
        assert_eq!(data.train.len(), 8000);
        assert_eq!(data.test.len(), 2000);
        for set in [&data.train, &data.test] {
            assert_eq!(set.images.len(), set.len() * IMAGE_LEN);
            let mut counts = [0usize; NUM_CLASSES];
            for &l in &set.labels {
                counts[l as usize] += 1;
            }
            // Every digit present, none wildly over- or under-represented.
            for (d, &c) in counts.iter().enumerate() {
                assert!(
                    c * NUM_CLASSES * 2 > set.len() && c * NUM_CLASSES < set.len() * 2,
                    "digit {d}: {c} of {}",
                    set.len()
                );
            }
            // Pixel statistics of MNIST: mean ~33/255, ~19% of pixels lit, full range used,
            // the corners blank, every image with ink.
            let mean = set.images.iter().map(|&p| p as f64).sum::<f64>() / set.images.len() as f64;
            assert!((25.0..45.0).contains(&mean), "mean pixel {mean}");
            let lit = set.images.iter().filter(|&&p| p > 0).count() as f64;
            let lit = lit / set.images.len() as f64;
            assert!((0.1..0.3).contains(&lit), "lit fraction {lit}");
            assert_eq!(*set.images.iter().max().unwrap(), 255);
            assert_eq!(*set.images.iter().min().unwrap(), 0);
            for i in 0..set.len() {
                let img = set.image(i);
                assert_eq!(img.len(), IMAGE_LEN);
                assert_eq!(img[0], 0);
                assert_eq!(img[IMAGE_LEN - 1], 0);
                assert!(img.iter().filter(|&&p| p > 128).count() > 10, "image {i}");
            }
        }
        assert_ne!(data.train.image(0), data.train.image(1));
    }

    #[test]
    fn plain_files_load_identically() {
        let gz = load_mnist(&assets()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in FILE_NAMES {
            let raw = std::fs::read(assets().join(format!("{name}.gz"))).unwrap();
            std::fs::write(dir.path().join(name), gunzip(&raw)).unwrap();
        }
        let plain = load_mnist(dir.path()).unwrap();
        assert_eq!(gz, plain);
    }

    #[test]
    fn plain_preferred_over_gz_and_gz_roundtrip() {
        let dir = small_dir();
        let d = dir.path();
        // A broken .gz beside a good plain file is ignored.
        std::fs::write(d.join(format!("{}.gz", FILE_NAMES[0])), b"garbage").unwrap();
        let a = load_mnist(d).unwrap();
        assert_eq!(a.train.len(), 5);
        assert_eq!(a.train.labels, vec![0, 1, 2, 3, 9]);
        assert!(a.train.images.iter().all(|&p| p == 7));
        // Only .gz for the test pair: same content.
        for name in &FILE_NAMES[2..] {
            let raw = std::fs::read(d.join(name)).unwrap();
            std::fs::write(d.join(format!("{name}.gz")), gzip(&raw)).unwrap();
            std::fs::remove_file(d.join(name)).unwrap();
        }
        let b = load_mnist(d).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn wrong_magic() {
        let mut b = idx_images(5, 28, 28, 0);
        b[3] = 0x08;
        let (_d, msg) = error_with(FILE_NAMES[0], &b);
        assert_names(&msg, FILE_NAMES[0], "wrong IDX magic number 0x00000808");
        assert!(msg.contains("0x00000803"), "{msg}");
        // A label file where an image file belongs.
        let (_d, msg) = error_with(FILE_NAMES[2], &idx_labels(&[1, 2, 3]));
        assert_names(&msg, FILE_NAMES[2], "this is a label file");
        // Gzip data under a plain name.
        let (_d, msg) = error_with(FILE_NAMES[1], &gzip(&idx_labels(&[0; 5])));
        assert_names(&msg, FILE_NAMES[1], "looks gzip-compressed");
    }

    #[test]
    fn wrong_dims() {
        let (_d, msg) = error_with(FILE_NAMES[0], &idx_images(5, 27, 28, 0));
        assert_names(
            &msg,
            FILE_NAMES[0],
            "wrong image dimensions 27x28, expected 28x28",
        );
    }

    #[test]
    fn truncated() {
        let mut b = idx_images(5, 28, 28, 0);
        b.truncate(16 + 123);
        let (_d, msg) = error_with(FILE_NAMES[0], &b);
        assert_names(
            &msg,
            FILE_NAMES[0],
            "truncated: header says 5 images of 28x28 (3920 bytes) but only 123 bytes follow",
        );
        let mut b = idx_labels(&[1, 2, 3]);
        b.pop();
        let (_d, msg) = error_with(FILE_NAMES[3], &b);
        assert_names(
            &msg,
            FILE_NAMES[3],
            "header says 3 labels (3 bytes) but only 2",
        );
        // Cut inside the header, and an empty file.
        let (_d, msg) = error_with(FILE_NAMES[2], &idx_images(3, 28, 28, 0)[..10]);
        assert_names(
            &msg,
            FILE_NAMES[2],
            "truncated: 10 bytes, shorter than the 16-byte",
        );
        let (_d, msg) = error_with(FILE_NAMES[1], b"");
        assert_names(&msg, FILE_NAMES[1], "truncated: 0 bytes");
    }

    #[test]
    fn trailing_garbage() {
        let mut b = idx_images(5, 28, 28, 0);
        b.extend_from_slice(b"xyz");
        let (_d, msg) = error_with(FILE_NAMES[0], &b);
        assert_names(
            &msg,
            FILE_NAMES[0],
            "3 trailing bytes after the 3920-byte payload",
        );
        let mut b = idx_labels(&[4, 5, 6]);
        b.push(1);
        let (_d, msg) = error_with(FILE_NAMES[3], &b);
        assert_names(&msg, FILE_NAMES[3], "1 trailing bytes");
    }

    #[test]
    fn label_out_of_range() {
        let (_d, msg) = error_with(FILE_NAMES[1], &idx_labels(&[0, 1, 11, 3, 4]));
        assert_names(&msg, FILE_NAMES[1], "label 2 is 11, outside 0..=9");
        let (_d, msg) = error_with(FILE_NAMES[1], &idx_labels(&[0, 10, 11, 255, 4]));
        assert_names(
            &msg,
            FILE_NAMES[1],
            "label 1 is 10, outside 0..=9 (and 2 more",
        );
    }

    #[test]
    fn count_mismatch() {
        let (_d, msg) = error_with(FILE_NAMES[3], &idx_labels(&[1, 2]));
        assert_names(&msg, FILE_NAMES[2], "3 images, but");
        assert_names(&msg, FILE_NAMES[3], "has 2 labels");
    }

    #[test]
    fn corrupt_gzip() {
        let name = format!("{}.gz", FILE_NAMES[0]);
        let good = gzip(&idx_images(5, 28, 28, 3));
        let setup = |content: &[u8]| {
            let dir = small_dir();
            std::fs::remove_file(dir.path().join(FILE_NAMES[0])).unwrap();
            std::fs::write(dir.path().join(&name), content).unwrap();
            let msg = load_mnist(dir.path()).unwrap_err().to_string();
            (dir, msg)
        };
        // Sanity: the good one loads.
        {
            let dir = small_dir();
            std::fs::remove_file(dir.path().join(FILE_NAMES[0])).unwrap();
            std::fs::write(dir.path().join(&name), &good).unwrap();
            assert_eq!(load_mnist(dir.path()).unwrap().train.len(), 5);
        }
        // Cut short.
        let (_d, msg) = setup(&good[..good.len() / 2]);
        assert_names(&msg, &name, "corrupt gzip data");
        // Scrambled deflate data / CRC.
        let mut bad = good.clone();
        let n = bad.len();
        for b in &mut bad[12..n - 2] {
            *b ^= 0x5a;
        }
        let (_d, msg) = setup(&bad);
        assert_names(&msg, &name, "corrupt gzip data");
        // Named .gz, not gzip.
        let (_d, msg) = setup(&idx_images(5, 28, 28, 3));
        assert_names(
            &msg,
            &name,
            "named .gz but is not gzip data (first bytes 00 00",
        );
        let (_d, msg) = setup(b"");
        assert_names(&msg, &name, "(empty file)");
        // Valid gzip of a truncated IDX file: the IDX check still applies.
        let (_d, msg) = setup(&gzip(&idx_images(5, 28, 28, 3)[..100]));
        assert_names(&msg, &name, "truncated: header says 5 images");
    }

    #[test]
    fn missing_file_and_dir() {
        let dir = small_dir();
        std::fs::remove_file(dir.path().join(FILE_NAMES[3])).unwrap();
        let msg = load_mnist(dir.path()).unwrap_err().to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(
            msg.contains("missing MNIST file(s) t10k-labels-idx1-ubyte "),
            "{msg}"
        );
        for name in FILE_NAMES {
            assert!(msg.contains(&format!("{name}[.gz]")), "{msg}");
        }

        let nowhere = dir.path().join("no-such-dir");
        let msg = load_mnist(&nowhere).unwrap_err().to_string();
        assert!(msg.contains("no-such-dir"), "{msg}");
        assert!(msg.contains("directory not found"), "{msg}");
        for name in FILE_NAMES {
            assert!(msg.contains(&format!("{name}[.gz]")), "{msg}");
        }

        let empty = tempfile::tempdir().unwrap();
        let err = load_mnist(empty.path()).unwrap_err();
        match &err {
            DataError::MissingFiles { missing, .. } => assert_eq!(missing.len(), 4),
            e => panic!("unexpected {e}"),
        }
        assert_eq!(err.path(), Some(empty.path()));
    }

    #[test]
    fn subset_and_image() {
        let set = MnistSet {
            images: (0..3 * IMAGE_LEN).map(|i| (i / IMAGE_LEN) as u8).collect(),
            labels: vec![5, 6, 7],
        };
        assert_eq!(set.len(), 3);
        assert!(!set.is_empty());
        assert!(MnistSet::default().is_empty());
        let s = set.subset(&[2, 0, 2]);
        assert_eq!(s.labels, vec![7, 5, 7]);
        assert!(s.image(0).iter().all(|&p| p == 2));
        assert!(s.image(1).iter().all(|&p| p == 0));
        assert_eq!(s.images.len(), 3 * IMAGE_LEN);
    }

    #[test]
    fn split_validation_properties() {
        // Each image tagged with its index (in its first two pixels) to track identity.
        let n = 500usize;
        let mut images = vec![0u8; n * IMAGE_LEN];
        for i in 0..n {
            images[i * IMAGE_LEN] = (i % 256) as u8;
            images[i * IMAGE_LEN + 1] = (i / 256) as u8;
        }
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        let set = MnistSet { images, labels };
        let id = |s: &MnistSet, k: usize| s.image(k)[0] as usize + 256 * s.image(k)[1] as usize;

        let (rest, val) = split_validation(&set, 100, 42).unwrap();
        assert_eq!(rest.len(), 400);
        assert_eq!(val.len(), 100);
        let mut ids: Vec<usize> = (0..rest.len()).map(|k| id(&rest, k)).collect();
        let val_ids: Vec<usize> = (0..val.len()).map(|k| id(&val, k)).collect();
        // Labels travel with their images.
        for (&label, &i) in val.labels.iter().zip(&val_ids) {
            assert_eq!(label as usize, i % 10);
        }
        ids.extend(&val_ids);
        ids.sort_unstable();
        assert_eq!(ids, (0..n).collect::<Vec<_>>(), "not a disjoint cover");
        // A random hold-out, not the first 100.
        assert!(val_ids.iter().any(|&i| i >= 100));

        // Deterministic per seed, different across seeds.
        let again = split_validation(&set, 100, 42).unwrap();
        assert_eq!(again, (rest.clone(), val.clone()));
        let other = split_validation(&set, 100, 43).unwrap();
        assert_ne!(other.1, val);

        // Edge sizes.
        let (r, v) = split_validation(&set, 0, 1).unwrap();
        assert_eq!((r.len(), v.len()), (500, 0));
        let (r, v) = split_validation(&set, 499, 1).unwrap();
        assert_eq!((r.len(), v.len()), (1, 499));
        let msg = split_validation(&set, 500, 1).unwrap_err().to_string();
        assert!(msg.contains("500") && msg.contains("only 500"), "{msg}");
        assert!(split_validation(&set, 501, 1).is_err());
        assert!(split_validation(&MnistSet::default(), 0, 1).is_err());
    }
}
