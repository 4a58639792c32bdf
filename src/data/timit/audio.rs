//! TIMIT audio files: NIST SPHERE (the LDC distribution: a 1024-byte text header, then 16-bit
//! PCM in the byte order the header names) and RIFF WAV (some copies were converted). Every
//! error names the file and what is wrong; a shorten-compressed SPHERE file gets the command
//! that converts it.

use std::path::Path;

/// Mono 16-bit audio.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

/// Reads a SPHERE or WAV file, told apart by its first bytes.
pub fn read_audio(path: &Path) -> anyhow::Result<Audio> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read audio file: {e}", path.display()))?;
    parse_audio_file(path, &bytes)
}

/// Parses the content of the audio file `path` (only named in errors).
pub fn parse_audio_file(path: &Path, bytes: &[u8]) -> anyhow::Result<Audio> {
    parse_audio(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses SPHERE (`NIST_1A`) or RIFF WAV bytes; the error says what is wrong (without the
/// path, which [`read_audio`] adds).
pub fn parse_audio(bytes: &[u8]) -> Result<Audio, String> {
    if bytes.starts_with(b"NIST_1A") {
        parse_sphere(bytes)
    } else if bytes.starts_with(b"RIFF") {
        parse_wav(bytes)
    } else {
        Err("neither a NIST SPHERE file (NIST_1A) nor a RIFF WAV file".into())
    }
}

fn parse_sphere(bytes: &[u8]) -> Result<Audio, String> {
    // "NIST_1A\n   1024\n" then "key -type value" lines up to "end_head".
    let head_len: usize = std::str::from_utf8(bytes.get(8..16).ok_or("SPHERE header cut short")?)
        .map_err(|_| "SPHERE header size is not text")?
        .trim()
        .parse()
        .map_err(|_| "SPHERE header size is not a number")?;
    let head = bytes
        .get(..head_len)
        .ok_or_else(|| format!("file shorter than its {head_len}-byte SPHERE header"))?;
    let text = String::from_utf8_lossy(head);
    let field = |key: &str| -> Option<String> {
        text.lines().skip(2).find_map(|l| {
            let mut it = l.splitn(3, ' ');
            (it.next()? == key).then(|| it.nth(1).unwrap_or("").trim().to_string())
        })
    };
    let int = |key: &str| -> Result<Option<u64>, String> {
        field(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("SPHERE field {key} = {v:?} is not an integer"))
            })
            .transpose()
    };
    if let Some(coding) = field("sample_coding") {
        if coding.contains("shorten") {
            return Err(format!(
                "SPHERE audio is shorten-compressed (sample_coding {coding}); convert the corpus \
                 to plain PCM first, e.g. with `sph2pipe -f wav IN.WAV OUT.wav` for each file"
            ));
        }
        if !coding.starts_with("pcm") {
            return Err(format!("SPHERE sample_coding {coding} is not PCM"));
        }
    }
    let channels = int("channel_count")?.unwrap_or(1);
    if channels != 1 {
        return Err(format!(
            "SPHERE channel_count {channels}: only mono is supported"
        ));
    }
    let width = int("sample_n_bytes")?.unwrap_or(2);
    if width != 2 {
        return Err(format!(
            "SPHERE sample_n_bytes {width}: only 16-bit samples are supported"
        ));
    }
    let sample_rate = int("sample_rate")?.ok_or("SPHERE header has no sample_rate")?;
    let sample_rate = u32::try_from(sample_rate)
        .map_err(|_| format!("SPHERE sample_rate {sample_rate} is not a sample rate"))?;
    let big_endian = match field("sample_byte_format").as_deref() {
        Some("01") | None => false,
        Some("10") => true,
        Some(other) => return Err(format!("SPHERE sample_byte_format {other} is not 01 or 10")),
    };
    let data = &bytes[head_len..];
    let count = match int("sample_count")? {
        // Compared with the bytes there are before `2 * count` is formed (no overflow).
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
        None => data.len() / 2,
    };
    if data.len() / 2 < count {
        return Err(format!(
            "SPHERE header announces {count} samples but the file holds {}",
            data.len() / 2
        ));
    }
    Ok(Audio {
        sample_rate,
        samples: pcm16(&data[..2 * count], big_endian),
    })
}

fn parse_wav(bytes: &[u8]) -> Result<Audio, String> {
    if bytes.get(8..12) != Some(b"WAVE") {
        return Err("RIFF file is not WAVE".into());
    }
    let (mut fmt, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = bytes.get(at + 8..at + 8 + len).ok_or_else(|| {
            format!(
                "WAV chunk {:?} runs past the end of the file",
                String::from_utf8_lossy(id)
            )
        })?;
        match id {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let fmt = fmt.ok_or("WAV file has no fmt chunk")?;
    let data = data.ok_or("WAV file has no data chunk")?;
    if fmt.len() < 16 {
        return Err("WAV fmt chunk is too short".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let (format, channels, bits) = (u16_at(0), u16_at(2), u16_at(14));
    if format != 1 {
        return Err(format!("WAV format {format} is not PCM (1)"));
    }
    if channels != 1 || bits != 16 {
        return Err(format!(
            "WAV with {channels} channel(s) of {bits} bits: only mono 16-bit PCM is supported"
        ));
    }
    let sample_rate = u32::from_le_bytes(fmt[4..8].try_into().expect("4 bytes"));
    Ok(Audio {
        sample_rate,
        samples: pcm16(&data[..data.len() & !1], false),
    })
}

fn pcm16(data: &[u8], big_endian: bool) -> Vec<i16> {
    data.chunks_exact(2)
        .map(|c| {
            if big_endian {
                i16::from_be_bytes([c[0], c[1]])
            } else {
                i16::from_le_bytes([c[0], c[1]])
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: [i16; 4] = [1, -2, 300, -32768];

    fn sphere(fields: &str, big_endian: bool, samples: &[i16]) -> Vec<u8> {
        let mut head = format!("NIST_1A\n   1024\n{fields}end_head\n").into_bytes();
        head.resize(1024, b' ');
        for s in samples {
            head.extend(if big_endian {
                s.to_be_bytes()
            } else {
                s.to_le_bytes()
            });
        }
        head
    }

    fn wav(channels: u16, bits: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut b = b"RIFF".to_vec();
        b.extend(((36 + data.len()) as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(16_000u32.to_le_bytes());
        b.extend((32_000u32).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(bits.to_le_bytes());
        b.extend(b"data");
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b
    }

    const FIELDS: &str = "database_id -s5 TIMIT\nsample_count -i 4\nsample_rate -i 16000\nchannel_count -i 1\nsample_n_bytes -i 2\n";

    #[test]
    fn sphere_in_both_byte_orders() {
        for (order, big) in [("01", false), ("10", true)] {
            let f = format!("{FIELDS}sample_byte_format -s2 {order}\nsample_coding -s3 pcm\n");
            let a = parse_audio(&sphere(&f, big, &SAMPLES)).unwrap();
            assert_eq!(
                a,
                Audio {
                    sample_rate: 16_000,
                    samples: SAMPLES.to_vec()
                }
            );
        }
    }

    #[test]
    fn shorten_sphere_says_how_to_convert() {
        let f = format!("{FIELDS}sample_coding -s26 pcm,embedded-shorten-v2.00\n");
        let e = parse_audio(&sphere(&f, false, &SAMPLES)).unwrap_err();
        assert!(e.contains("shorten") && e.contains("sph2pipe"), "{e}");
    }

    #[test]
    fn truncated_sphere_is_an_error() {
        let mut b = sphere(FIELDS, false, &SAMPLES);
        b.truncate(1024 + 5);
        let e = parse_audio(&b).unwrap_err();
        assert!(e.contains("4 samples") && e.contains("holds 2"), "{e}");
    }

    #[test]
    fn wav_mono_16_bit_and_rejects_others() {
        let a = parse_audio(&wav(1, 16, &SAMPLES)).unwrap();
        assert_eq!(
            a,
            Audio {
                sample_rate: 16_000,
                samples: SAMPLES.to_vec()
            }
        );
        let e = parse_audio(&wav(2, 16, &SAMPLES)).unwrap_err();
        assert!(e.contains("2 channel"), "{e}");
        let e = parse_audio(b"OggS....").unwrap_err();
        assert!(e.contains("neither"), "{e}");
    }

    #[test]
    fn broken_headers_are_errors_that_say_what_is_wrong() {
        let pcm = "sample_coding -s3 pcm\n";
        let cases: [(Vec<u8>, &str); 5] = [
            (b"NIST_1A\n  12x4\nend_head\n".to_vec(), "not a number"),
            (
                b"NIST_1A\n   1024\nsample_rate -i 16000\nend_head\n".to_vec(),
                "shorter than its 1024-byte",
            ),
            (
                sphere("sample_count -i 4\nsample_n_bytes -i 2\n", false, &SAMPLES),
                "no sample_rate",
            ),
            (
                sphere(
                    &format!("{FIELDS}sample_byte_format -s2 1032\n{pcm}"),
                    false,
                    &SAMPLES,
                ),
                "1032",
            ),
            (
                sphere(
                    "sample_rate -i 16000\nsample_count -i four\n",
                    false,
                    &SAMPLES,
                ),
                "not an integer",
            ),
        ];
        for (bytes, expected) in cases {
            let e = parse_audio(&bytes).unwrap_err();
            assert!(e.contains(expected), "{e} (expected {expected:?})");
        }
        // WAV: a chunk longer than the file, and no data chunk.
        let mut w = wav(1, 16, &SAMPLES);
        let n = w.len();
        w.truncate(n - 3);
        assert!(parse_audio(&w).unwrap_err().contains("past the end"));
        let w = wav(1, 16, &SAMPLES);
        let fmt_end = 12 + 8 + 16;
        assert!(parse_audio(&w[..fmt_end])
            .unwrap_err()
            .contains("no data chunk"));
    }

    #[test]
    fn read_audio_names_the_file() {
        let dir = std::env::temp_dir().join(format!("lsnn_audio_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("SA1.WAV");
        std::fs::write(&p, b"garbage").unwrap();
        let e = read_audio(&p).unwrap_err().to_string();
        assert!(e.contains("SA1.WAV"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
