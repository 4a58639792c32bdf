//! TIMIT `.PHN` time alignments and the per-frame labels made from them.
//!
//! A `.PHN` file has one segment per line, `<start_sample> <end_sample> <phone>`, e.g.
//! `0 3050 h#`, with sample indices at 16 kHz, `end` exclusive, in time order. In TIMIT
//! consecutive segments are contiguous (each starts where the previous one ended); gaps are
//! accepted here (their frames get no label), overlaps are rejected. Every error names the file
//! and the 1-based line. Blank lines are accepted only at the end of the file, so that segment
//! `k` (0-based) is always line `k + 1`, and later errors about a segment can name its line.

use std::path::Path;

use super::phones::{phone_index, PHONES_61};

/// One aligned phone: samples `start..end` (end exclusive) are phone `PHONES_61[phone]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First sample of the phone.
    pub start: usize,
    /// One past its last sample.
    pub end: usize,
    /// Index in [`PHONES_61`].
    pub phone: usize,
}

/// Parses the text of a `.PHN` file; `path` is only used to name the file in errors.
pub fn parse_phn(text: &str, path: &Path) -> anyhow::Result<Vec<Segment>> {
    let p = path.display();
    let lines: Vec<&str> = text.lines().collect();
    // Trailing blank lines (a final newline, editors' extra lines) are fine; others are not.
    let used = lines.len()
        - lines
            .iter()
            .rev()
            .take_while(|l| l.trim().is_empty())
            .count();
    let mut segments: Vec<Segment> = Vec::with_capacity(used);
    for (i, line) in lines[..used].iter().enumerate() {
        let n = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 3 {
            anyhow::bail!(
                "{p}: line {n}: expected 3 fields `<start_sample> <end_sample> <phone>`, found {} \
                 in {:?}",
                fields.len(),
                line.trim()
            );
        }
        let int = |s: &str, what: &str| -> anyhow::Result<usize> {
            s.parse::<usize>().map_err(|_| {
                anyhow::anyhow!("{p}: line {n}: {what} sample {s:?} is not a non-negative integer")
            })
        };
        let start = int(fields[0], "start")?;
        let end = int(fields[1], "end")?;
        if end <= start {
            anyhow::bail!("{p}: line {n}: segment ends (sample {end}) before it starts ({start})");
        }
        let phone = phone_index(fields[2]).ok_or_else(|| {
            anyhow::anyhow!(
                "{p}: line {n}: unknown phone symbol {:?} (not one of the 61 TIMIT phones)",
                fields[2]
            )
        })?;
        if let Some(prev) = segments.last() {
            if start < prev.end {
                anyhow::bail!(
                    "{p}: line {n}: segment {start}..{end} overlaps or precedes the previous one, \
                     which ends at sample {} (segments must be in time order without overlap)",
                    prev.end
                );
            }
        }
        segments.push(Segment { start, end, phone });
    }
    if segments.is_empty() {
        anyhow::bail!("{p}: no phone segments (empty .PHN file)");
    }
    Ok(segments)
}

/// Reads and parses a `.PHN` file.
pub fn read_phn(path: &Path) -> anyhow::Result<Vec<Segment>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!("{}: cannot read phone alignment file: {e}", path.display())
    })?;
    parse_phn(&text, path)
}

/// One label per frame: frame `i` covers samples `i*hop_len .. i*hop_len + window_len` and gets
/// the phone index of the segment covering its centre sample `i*hop_len + window_len/2`, or −1
/// where no segment covers it (a gap, before the first or after the last segment, or a centre
/// beyond the audio in a zero-padded last frame). −1 frames are meant to be left out of the loss
/// and the error.
///
/// `segments` must be as [`parse_phn`] returns them (in order, without overlap, segment `k` on
/// line `k + 1` of `path`, which names the file in errors). An alignment that ends after the
/// audio's `n_samples` samples is an error: the `.PHN` file does not belong to that audio.
pub fn frame_labels(
    segments: &[Segment],
    n_samples: usize,
    n_frames: usize,
    window_len: usize,
    hop_len: usize,
    path: &Path,
) -> anyhow::Result<Vec<i32>> {
    let p = path.display();
    for (k, s) in segments.iter().enumerate() {
        let n = k + 1;
        if s.phone >= PHONES_61.len() || s.end <= s.start {
            anyhow::bail!("{p}: line {n}: invalid segment {s:?}");
        }
        if k > 0 && s.start < segments[k - 1].end {
            anyhow::bail!("{p}: line {n}: segment overlaps or precedes the previous one");
        }
        if s.end > n_samples {
            anyhow::bail!(
                "{p}: line {n}: alignment beyond the audio: ends at sample {}, audio has \
                 {n_samples} samples",
                s.end
            );
        }
    }
    Ok((0..n_frames)
        .map(|i| {
            let centre = i.saturating_mul(hop_len).saturating_add(window_len / 2);
            // The last segment starting at or before the centre is the only candidate.
            let k = segments.partition_point(|s| s.start <= centre);
            match k.checked_sub(1).map(|k| &segments[k]) {
                Some(s) if centre < s.end => s.phone as i32,
                _ => -1,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("TRAIN/DR1/FCJF0/SA1.PHN")
    }

    fn err(text: &str) -> String {
        parse_phn(text, path()).unwrap_err().to_string()
    }

    fn ix(s: &str) -> usize {
        phone_index(s).unwrap()
    }

    #[test]
    fn parses_timit_lines() {
        let text = "0 3050 h#\n3050 4559 sh\n4559 5723 IX\n5723 6700 ax-h\r\n\n\n";
        let segs = parse_phn(text, path()).unwrap();
        assert_eq!(
            segs,
            vec![
                Segment {
                    start: 0,
                    end: 3050,
                    phone: ix("h#")
                },
                Segment {
                    start: 3050,
                    end: 4559,
                    phone: ix("sh")
                },
                Segment {
                    start: 4559,
                    end: 5723,
                    phone: ix("ix")
                },
                Segment {
                    start: 5723,
                    end: 6700,
                    phone: ix("ax-h")
                },
            ]
        );
        // Gaps are accepted.
        assert_eq!(parse_phn("0 10 h#\n20 30 s\n", path()).unwrap().len(), 2);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = err("0 10 h#\n10 20\n");
        assert!(
            e.contains("SA1.PHN") && e.contains("line 2") && e.contains("3 fields"),
            "{e}"
        );
        let e = err("0 10 h#\n10 2x0 s\n");
        assert!(
            e.contains("SA1.PHN") && e.contains("line 2") && e.contains("\"2x0\""),
            "{e}"
        );
        let e = err("-1 10 h#\n");
        assert!(e.contains("line 1") && e.contains("\"-1\""), "{e}");
        let e = err("0 10 h#\n10 10 s\n");
        assert!(
            e.contains("line 2") && e.contains("before it starts"),
            "{e}"
        );
        let e = err("0 10 h#\n10 20 s\n20 30 xyz\n");
        assert!(e.contains("line 3") && e.contains("\"xyz\""), "{e}");
        let e = err("0 10 h#\n5 20 s\n");
        assert!(e.contains("line 2") && e.contains("overlaps"), "{e}");
        let e = err("0 10 h#\n\n10 20 s\n");
        assert!(e.contains("line 2") && e.contains("found 0"), "{e}");
        let e = err("\n \n");
        assert!(e.contains("SA1.PHN") && e.contains("empty"), "{e}");
    }

    #[test]
    fn read_phn_names_a_missing_file() {
        let e = read_phn(Path::new("/nonexistent/SX1.PHN"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SX1.PHN"), "{e}");
    }

    #[test]
    fn labels_at_frame_centres() {
        // Window 4, hop 2: centres 2, 4, 6, 8, 10, 12, 14.
        let segs = parse_phn("0 5 h#\n5 9 iy\n11 14 s\n", path()).unwrap();
        let (h, iy, s) = (ix("h#") as i32, ix("iy") as i32, ix("s") as i32);
        let l = frame_labels(&segs, 15, 7, 4, 2, path()).unwrap();
        // centre 2 → h#, 4 → h#, 6 → iy, 8 → iy, 10 → gap, 12 → s, 14 → after the last.
        assert_eq!(l, vec![h, h, iy, iy, -1, s, -1]);
        // A zero-padded last frame whose centre lies beyond the audio.
        let l = frame_labels(&segs, 14, 8, 4, 2, path()).unwrap();
        assert_eq!(l[7], -1);
        assert_eq!(
            frame_labels(&segs, 14, 0, 4, 2, path()).unwrap(),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn alignment_beyond_the_audio_is_an_error() {
        let segs = parse_phn("0 5 h#\n5 9 iy\n9 20 h#\n", path()).unwrap();
        let e = frame_labels(&segs, 19, 3, 4, 2, path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SA1.PHN")
                && e.contains("line 3")
                && e.contains("ends at sample 20, audio has 19 samples"),
            "{e}"
        );
        assert!(frame_labels(&segs, 20, 3, 4, 2, path()).is_ok());
    }
}
