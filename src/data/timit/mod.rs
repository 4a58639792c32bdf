//! The TIMIT corpus (experiments.md §2), read from the user's LDC copy. So far: the audio
//! reader ([`audio`]) for NIST SPHERE and RIFF WAV files.

pub mod audio;
