//! The standard TIMIT evaluation speaker lists (docs/experiments.md §2: a 400-utterance validation set
//! from test speakers outside the core set, and the 192-utterance core test set).
//!
//! Speaker ids are stored upper case, as the LDC distribution names the speaker directories;
//! compare them with [`same_speaker`] (case-insensitive), since some copies of the corpus are
//! lower case throughout.

/// The 24-speaker core test set of the TIMIT documentation (`TIMIT/DOC/TESTSET.DOC`): two male
/// and one female speaker from each of the eight dialect regions, listed by region DR1..DR8
/// (male, male, female). Their 8 SI/SX sentences each give the 192-utterance core test set. The
/// same list is used by Halberstadt (1998), "Heterogeneous acoustic measurements and multiple
/// classifiers for speech recognition", PhD thesis, MIT, and by the TIMIT recipes built on it.
pub const CORE_TEST_SPEAKERS: [&str; 24] = [
    "MDAB0", "MWBT0", "FELC0", // DR1
    "MTAS1", "MWEW0", "FPAS0", // DR2
    "MJMP0", "MLNT0", "FPKT0", // DR3
    "MLLL0", "MTLS0", "FJLM0", // DR4
    "MBPM0", "MKLT0", "FNLP0", // DR5
    "MCMJ0", "MJDH0", "FMGD0", // DR6
    "MGRT0", "MNJM0", "FDHC0", // DR7
    "MJLN0", "MPAM0", "FMLD0", // DR8
];

/// The 50-speaker development set of Halberstadt (1998), drawn from the TIMIT test speakers
/// outside the core test set; their 8 SI/SX sentences each give the 400-utterance validation
/// set. Copied, in its order, from Kaldi's `egs/timit/s5/conf/dev_spk.list` (lower case there).
pub const DEV_SPEAKERS: [&str; 50] = [
    "FAKS0", "FDAC1", "FJEM0", "MGWT0", "MJAR0", "MMDB1", "MMDM2", "MPDF0", "FCMH0", "FKMS0",
    "MBDG0", "MBWM0", "MCSH0", "FADG0", "FDMS0", "FEDW0", "MGJF0", "MGLB0", "MRTK0", "MTAA0",
    "MTDT0", "MTHC0", "MWJG0", "FNMR0", "FREW0", "FSEM0", "MBNS0", "MMJR0", "MDLS0", "MDLF0",
    "MDVC0", "MERS0", "FMAH0", "FDRW0", "MRCS0", "MRJM4", "FCAL1", "MMWH0", "FJSJ0", "MAJC0",
    "MJSW0", "MREB0", "FGJD0", "FJMG0", "MROA0", "MTEB0", "MJFC0", "MRJR0", "FMML0", "MRWS1",
];

/// Whether two speaker ids name the same speaker (ids are compared case-insensitively).
pub fn same_speaker(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `speaker` is one of the 24 core test speakers (case-insensitive).
pub fn is_core_test_speaker(speaker: &str) -> bool {
    CORE_TEST_SPEAKERS.iter().any(|s| same_speaker(s, speaker))
}

/// Whether `speaker` is one of the 50 development speakers (case-insensitive).
pub fn is_dev_speaker(speaker: &str) -> bool {
    DEV_SPEAKERS.iter().any(|s| same_speaker(s, speaker))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn well_formed(id: &str) -> bool {
        // Sex letter, three initials, a digit: the TIMIT speaker id format.
        id.len() == 5
            && matches!(id.as_bytes()[0], b'M' | b'F')
            && id[1..4].bytes().all(|b| b.is_ascii_uppercase())
            && id.as_bytes()[4].is_ascii_digit()
    }

    #[test]
    fn sizes_no_duplicates_no_overlap() {
        let core: HashSet<_> = CORE_TEST_SPEAKERS.iter().collect();
        let dev: HashSet<_> = DEV_SPEAKERS.iter().collect();
        assert_eq!(core.len(), 24);
        assert_eq!(dev.len(), 50);
        assert!(core.is_disjoint(&dev));
        for id in CORE_TEST_SPEAKERS.iter().chain(DEV_SPEAKERS.iter()) {
            assert!(well_formed(id), "{id}");
        }
        // Two male and one female speaker per dialect region.
        for region in CORE_TEST_SPEAKERS.chunks(3) {
            let sexes: Vec<u8> = region.iter().map(|s| s.as_bytes()[0]).collect();
            assert_eq!(sexes, b"MMF");
        }
    }

    #[test]
    fn membership_is_case_insensitive() {
        assert!(is_core_test_speaker("mdab0"));
        assert!(is_dev_speaker("Faks0"));
        assert!(!is_dev_speaker("mdab0"));
        assert!(!is_core_test_speaker("faks0"));
    }
}
