//! A small synthetic corpus in the LDC TIMIT layout, for tests: TIMIT itself is not
//! redistributable (docs/experiments.md §2), so the test suite generates its own.
//!
//! `TRAIN/DR<n>/<speaker>/<SENT>.WAV|.PHN` for made-up training speakers (`MSYN0`, `FSYN1`, …),
//! and `TEST/…` for two real core-test speakers and two real development speakers (so that the
//! standard speaker lists select them), each with SA1/SA2 (which the splits must exclude) and
//! `utterances_per_speaker` SI/SX sentences. Audio is NIST SPHERE with a header like TIMIT's
//! (little-endian, every `big_endian_every`-th file big-endian) or, every `wav_every`-th file,
//! RIFF WAV named `<SENT>.WAV.wav` (as converted copies name it).
//!
//! Each utterance is `h#`, then random phones of 40–150 ms from [`SYNTHETIC_PHONES`] that differ
//! in spectrum (two-formant vowels with a pitch modulation, band-pass noise fricatives, silent
//! pauses), then `h#`; formants, pitch and levels are jittered and a low background noise runs
//! throughout, so that frames are learnable but not trivially separable.
//! [`synthetic_utterances`] regenerates exactly what [`write_synthetic_timit`] writes, so tests
//! can compare what they read back.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use lsnn_gpu::data::timit::speakers::{CORE_TEST_SPEAKERS, DEV_SPEAKERS};

/// Sample rate of TIMIT and of the synthetic corpus.
pub const SAMPLE_RATE: u32 = 16_000;

/// The phones the synthetic utterances use (all TIMIT symbols): `h#` opens and closes every
/// utterance; the others are drawn at random in between.
pub const SYNTHETIC_PHONES: [&str; 7] = ["h#", "pau", "iy", "aa", "uw", "s", "sh"];

/// `(speaker, dialect)` of the real core-test speakers placed under `TEST`.
pub const CORE_SPEAKERS_USED: [(&str, &str); 2] = [("MDAB0", "DR1"), ("FPAS0", "DR2")];
/// `(speaker, dialect)` of the real development speakers placed under `TEST`.
pub const DEV_SPEAKERS_USED: [(&str, &str); 2] = [("FAKS0", "DR1"), ("FDAC1", "DR1")];

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticTimit {
    /// Number of made-up training speakers under `TRAIN`.
    pub train_speakers: usize,
    /// SI/SX utterances per speaker (SA1 and SA2 come on top).
    pub utterances_per_speaker: usize,
    /// Approximate length of an utterance in seconds.
    pub seconds: f32,
    pub seed: u64,
    /// Every k-th audio file is a big-endian SPHERE file (0: none).
    pub big_endian_every: usize,
    /// Every k-th audio file is RIFF WAV instead of SPHERE (0: none); wins over big-endian.
    pub wav_every: usize,
}

impl Default for SyntheticTimit {
    fn default() -> Self {
        SyntheticTimit {
            train_speakers: 4,
            utterances_per_speaker: 4,
            seconds: 1.0,
            seed: 1,
            big_endian_every: 3,
            wav_every: 5,
        }
    }
}

/// How an audio file is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioFormat {
    SphereLittleEndian,
    SphereBigEndian,
    Wav,
}

/// One generated utterance.
#[derive(Clone, Debug)]
pub struct SyntheticUtterance {
    /// `TRAIN` or `TEST`.
    pub part: &'static str,
    pub dialect: String,
    pub speaker: String,
    pub sentence: String,
    pub samples: Vec<i16>,
    /// `(start, end, phone)`, contiguous from 0 to `samples.len()`.
    pub segments: Vec<(usize, usize, &'static str)>,
    pub format: AudioFormat,
}

impl SyntheticUtterance {
    /// The id `split_corpus` gives it, e.g. `DR1-MSYN0-SI1000`.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.dialect, self.speaker, self.sentence)
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(self.part).join(&self.dialect).join(&self.speaker)
    }

    pub fn audio_path(&self, root: &Path) -> PathBuf {
        let ext = match self.format {
            AudioFormat::Wav => "WAV.wav",
            _ => "WAV",
        };
        self.dir(root).join(format!("{}.{ext}", self.sentence))
    }

    pub fn phn_path(&self, root: &Path) -> PathBuf {
        self.dir(root).join(format!("{}.PHN", self.sentence))
    }

    /// The `.PHN` text.
    pub fn phn_text(&self) -> String {
        self.segments
            .iter()
            .map(|(s, e, p)| format!("{s} {e} {p}\n"))
            .collect()
    }
}

/// Every utterance of the corpus `spec` describes, in a fixed order (training speakers, then
/// core-test, then development speakers; SA1, SA2, then SI/SX sentences), deterministic in
/// `spec.seed`.
pub fn synthetic_utterances(spec: &SyntheticTimit) -> Vec<SyntheticUtterance> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut speakers: Vec<(&'static str, String, String)> = (0..spec.train_speakers)
        .map(|i| {
            let sex = if i.is_multiple_of(2) { 'M' } else { 'F' };
            ("TRAIN", format!("DR{}", 1 + i % 8), format!("{sex}SYN{i}"))
        })
        .collect();
    for (spk, dr) in CORE_SPEAKERS_USED.iter().chain(DEV_SPEAKERS_USED.iter()) {
        debug_assert!(CORE_TEST_SPEAKERS.contains(spk) || DEV_SPEAKERS.contains(spk));
        speakers.push(("TEST", dr.to_string(), spk.to_string()));
    }
    let mut out = Vec::new();
    let mut file_index = 0usize;
    for (part, dialect, speaker) in speakers {
        let sentences = ["SA1".to_string(), "SA2".to_string()].into_iter().chain(
            (0..spec.utterances_per_speaker).map(|j| {
                if j.is_multiple_of(2) {
                    format!("SI{}", 1000 + j)
                } else {
                    format!("SX{}", 100 + j)
                }
            }),
        );
        for sentence in sentences {
            file_index += 1;
            let every = |k: usize| k > 0 && file_index.is_multiple_of(k);
            let format = if every(spec.wav_every) {
                AudioFormat::Wav
            } else if every(spec.big_endian_every) {
                AudioFormat::SphereBigEndian
            } else {
                AudioFormat::SphereLittleEndian
            };
            let (samples, segments) = synthesize(&mut rng, spec.seconds);
            out.push(SyntheticUtterance {
                part,
                dialect: dialect.clone(),
                speaker: speaker.clone(),
                sentence,
                samples,
                segments,
                format,
            });
        }
    }
    out
}

/// Writes the corpus `spec` describes under `root` (which must exist or be creatable).
pub fn write_synthetic_timit(root: &Path, spec: &SyntheticTimit) -> anyhow::Result<()> {
    for u in synthetic_utterances(spec) {
        let dir = u.dir(root);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes = match u.format {
            AudioFormat::Wav => wav_bytes(&u.samples),
            AudioFormat::SphereLittleEndian | AudioFormat::SphereBigEndian => {
                let utterance_id = format!(
                    "{}_{}",
                    u.speaker[1..].to_ascii_lowercase(),
                    u.sentence.to_ascii_lowercase()
                );
                sphere_bytes(
                    &u.samples,
                    u.format == AudioFormat::SphereBigEndian,
                    &utterance_id,
                )
            }
        };
        let audio = u.audio_path(root);
        std::fs::write(&audio, bytes).with_context(|| format!("writing {}", audio.display()))?;
        let phn = u.phn_path(root);
        std::fs::write(&phn, u.phn_text()).with_context(|| format!("writing {}", phn.display()))?;
    }
    Ok(())
}

/// A NIST SPHERE file laid out like TIMIT's: `NIST_1A`, the header size 1024, TIMIT's fields
/// (plus `sample_coding`), `end_head`, padded with spaces to 1024 bytes, then 16-bit PCM.
pub fn sphere_bytes(samples: &[i16], big_endian: bool, utterance_id: &str) -> Vec<u8> {
    let (min, max) = (
        samples.iter().copied().min().unwrap_or(0),
        samples.iter().copied().max().unwrap_or(0),
    );
    let mut head = format!(
        "NIST_1A\n   1024\n\
         database_id -s5 TIMIT\n\
         database_version -s3 1.0\n\
         utterance_id -s{} {utterance_id}\n\
         channel_count -i 1\n\
         sample_count -i {}\n\
         sample_rate -i {SAMPLE_RATE}\n\
         sample_min -i {min}\n\
         sample_max -i {max}\n\
         sample_n_bytes -i 2\n\
         sample_byte_format -s2 {}\n\
         sample_sig_bits -i 16\n\
         sample_coding -s3 pcm\n\
         end_head\n",
        utterance_id.len(),
        samples.len(),
        if big_endian { "10" } else { "01" },
    )
    .into_bytes();
    assert!(head.len() <= 1024, "SPHERE header too long");
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

/// A mono 16-bit PCM RIFF WAV file at 16 kHz.
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut b = b"RIFF".to_vec();
    b.extend((36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes()); // PCM
    b.extend(1u16.to_le_bytes()); // mono
    b.extend(SAMPLE_RATE.to_le_bytes());
    b.extend((2 * SAMPLE_RATE).to_le_bytes()); // bytes per second
    b.extend(2u16.to_le_bytes()); // block align
    b.extend(16u16.to_le_bytes()); // bits per sample
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

fn ms(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> usize {
    (rng.random_range(lo..hi) * SAMPLE_RATE as f32 / 1000.0) as usize
}

/// One utterance of about `seconds`: samples and contiguous `(start, end, phone)` segments.
fn synthesize(rng: &mut ChaCha8Rng, seconds: f32) -> (Vec<i16>, Vec<(usize, usize, &'static str)>) {
    let target = (seconds.max(0.3) * SAMPLE_RATE as f32) as usize;
    let mut segments = Vec::new();
    let mut pos = ms(rng, 80.0, 150.0);
    segments.push((0, pos, "h#"));
    let tail = ms(rng, 80.0, 150.0);
    let middle = &SYNTHETIC_PHONES[1..];
    while pos + tail < target || segments.len() < 2 {
        let phone = middle[rng.random_range(0..middle.len())];
        let len = ms(rng, 40.0, 150.0);
        segments.push((pos, pos + len, phone));
        pos += len;
    }
    segments.push((pos, pos + tail, "h#"));
    let n = pos + tail;
    let mut x = vec![0f32; n];
    for &(start, end, phone) in &segments {
        render(rng, phone, &mut x[start..end]);
    }
    let samples = x
        .iter()
        .map(|v| {
            let noise: f32 = StandardNormal.sample(rng);
            (v + 40.0 * noise).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    (samples, segments)
}

/// Writes one phone's signal (before background noise) into `out`.
fn render(rng: &mut ChaCha8Rng, phone: &str, out: &mut [f32]) {
    let fs = SAMPLE_RATE as f32;
    let mut jitter = |f: f32| f * rng.random_range(0.95..1.05);
    let vowel = match phone {
        "iy" => Some((270.0, 2300.0)),
        "aa" => Some((730.0, 1090.0)),
        "uw" => Some((300.0, 870.0)),
        _ => None,
    };
    let band = match phone {
        "s" => Some((6000.0, 1.2)),
        "sh" => Some((3000.0, 1.5)),
        _ => None,
    };
    if let Some((f1, f2)) = vowel {
        let (f1, f2) = (jitter(f1), jitter(f2));
        let f0 = rng.random_range(90.0..220.0);
        let amp = rng.random_range(2000.0..5000.0);
        let (p1, p2) = (
            rng.random_range(0.0..2.0 * PI),
            rng.random_range(0.0..2.0 * PI),
        );
        for (i, o) in out.iter_mut().enumerate() {
            let t = i as f32 / fs;
            let formants =
                0.6 * (2.0 * PI * f1 * t + p1).sin() + 0.4 * (2.0 * PI * f2 * t + p2).sin();
            *o = amp * formants * (0.6 + 0.4 * (2.0 * PI * f0 * t).sin());
        }
    } else if let Some((centre, q)) = band {
        // RBJ band-pass biquad (0 dB peak gain) on white noise, scaled to a random RMS.
        let w0 = 2.0 * PI * jitter(centre) / fs;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b2, a1, a2) = (
            alpha / a0,
            -alpha / a0,
            -2.0 * w0.cos() / a0,
            (1.0 - alpha) / a0,
        );
        let (mut x1, mut x2, mut y1, mut y2) = (0f32, 0f32, 0f32, 0f32);
        for o in out.iter_mut() {
            let x0: f32 = StandardNormal.sample(rng);
            let y0 = b0 * x0 + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            *o = y0;
        }
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / out.len().max(1) as f32).sqrt();
        let gain = rng.random_range(1000.0..2500.0) / rms.max(1e-6);
        out.iter_mut().for_each(|v| *v *= gain);
    }
    // Silences ("h#", "pau") stay zero: only the background noise.
    // 5 ms raised-cosine ramps avoid clicks at phone boundaries.
    let ramp = (out.len() / 2).min((0.005 * fs) as usize);
    for i in 0..ramp {
        let g = 0.5 - 0.5 * (PI * i as f32 / ramp as f32).cos();
        out[i] *= g;
        let j = out.len() - 1 - i;
        out[j] *= g;
    }
}
