//! The 61 TIMIT phone symbols and the standard folding to 39 classes.
//!
//! Frames are labelled with the 61 phones of the TIMIT transcriptions (the `.PHN` files; TIMIT's
//! `phoncode.doc` lists them); docs/experiments.md §2 also reports the frame error after folding to
//! the 39 classes of Lee & Hon (1989), "Speaker-independent phone recognition using hidden Markov
//! models", IEEE Trans. ASSP 37(11), the folding every TIMIT result since has used.
//!
//! **Order.** [`PHONES_61`] is in the order of the rows of Kaldi's
//! `egs/timit/s5/conf/phones.60-48-39.map` (alphabetical by symbol, `q` included), so that an
//! index is reproducible from a public file. [`PHONES_39`] is in the order in which each 39-class
//! symbol first appears in the third column of that map.
//!
//! **The glottal stop `q`.** Lee & Hon delete `q` from the transcriptions before scoring (Kaldi's
//! map leaves its row empty for the same reason). A framewise classifier has to put *some* label
//! on `q`'s frames, so here `q` is one of the 61 training classes, and in the 39-class scoring its
//! frames are left unscored: [`fold_39`] returns `None` for `q` (and only for `q`). A *prediction*
//! of `q` on a scored frame matches no 39-class target and counts as an error; [`folded_match`]
//! applies exactly this rule.

/// The 61 TIMIT phones, lower case, in the row order of Kaldi's `phones.60-48-39.map`. A label in
/// `0..61` indexes this array.
pub const PHONES_61: [&str; 61] = [
    "aa", "ae", "ah", "ao", "aw", "ax", "ax-h", "axr", "ay", "b", "bcl", "ch", "d", "dcl", "dh",
    "dx", "eh", "el", "em", "en", "eng", "epi", "er", "ey", "f", "g", "gcl", "h#", "hh", "hv",
    "ih", "ix", "iy", "jh", "k", "kcl", "l", "m", "n", "ng", "nx", "ow", "oy", "p", "pau", "pcl",
    "q", "r", "s", "sh", "t", "tcl", "th", "uh", "uw", "ux", "v", "w", "y", "z", "zh",
];

/// The 39 folded classes of Lee & Hon (1989), named as in the third column of Kaldi's
/// `phones.60-48-39.map` (`sil` is the class of silences, pauses, closures and `epi`), in order of
/// first appearance there.
pub const PHONES_39: [&str; 39] = [
    "aa", "ae", "ah", "aw", "er", "ay", "b", "sil", "ch", "d", "dh", "dx", "eh", "l", "m", "n",
    "ng", "ey", "f", "g", "hh", "ih", "iy", "jh", "k", "ow", "oy", "p", "r", "s", "sh", "t", "th",
    "uh", "uw", "v", "w", "y", "z",
];

/// `FOLD_61_TO_39[i]` is the 39-class symbol of `PHONES_61[i]` (`""` for `q`, which Lee & Hon
/// delete), copied from the third column of Kaldi's `egs/timit/s5/conf/phones.60-48-39.map`.
const FOLD_61_TO_39: [&str; 61] = [
    "aa", "ae", "ah", "aa", "aw", "ah", "ah", "er", "ay", "b", "sil", "ch", "d", "sil", "dh", "dx",
    "eh", "l", "m", "n", "ng", "sil", "er", "ey", "f", "g", "sil", "sil", "hh", "hh", "ih", "ih",
    "iy", "jh", "k", "sil", "l", "m", "n", "ng", "n", "ow", "oy", "p", "sil", "sil", "", "r", "s",
    "sh", "t", "sil", "th", "uh", "uw", "uw", "v", "w", "y", "z", "sh",
];

/// Index in [`PHONES_61`] of a TIMIT phone symbol, compared case-insensitively (`H#`, `AX-H`
/// work), or `None` if it is not one of the 61.
pub fn phone_index(sym: &str) -> Option<usize> {
    PHONES_61.iter().position(|p| p.eq_ignore_ascii_case(sym))
}

/// Index in [`PHONES_39`] of a folded class symbol (case-insensitive), or `None`.
pub fn class_39_index(sym: &str) -> Option<usize> {
    PHONES_39.iter().position(|p| p.eq_ignore_ascii_case(sym))
}

/// The 39-class index (into [`PHONES_39`]) of the 61-phone index `index61`; `None` for the
/// glottal stop `q` (its frames are unscored in the 39-class error, see the module docs) and for
/// an index outside `0..61`.
pub fn fold_39(index61: usize) -> Option<usize> {
    class_39_index(FOLD_61_TO_39.get(index61)?)
}

/// Whether a predicted 61-phone index matches a target 61-phone index after folding both to 39
/// classes: `None` when the target is unscored in the 39-class error (`q`, or not a phone
/// index), otherwise `Some(true)` iff the prediction folds to the target's class (a prediction
/// of `q` never matches).
pub fn folded_match(predicted61: usize, target61: usize) -> Option<bool> {
    let target = fold_39(target61)?;
    Some(fold_39(predicted61) == Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn sixty_one_distinct_phones_and_39_distinct_classes() {
        assert_eq!(PHONES_61.iter().collect::<HashSet<_>>().len(), 61);
        assert_eq!(PHONES_39.iter().collect::<HashSet<_>>().len(), 39);
        // Alphabetical, as the rows of the Kaldi map.
        let mut sorted = PHONES_61;
        sorted.sort();
        assert_eq!(sorted, PHONES_61);
        for must in ["h#", "pau", "epi", "q", "ax-h", "tcl", "eng"] {
            assert!(phone_index(must).is_some(), "{must}");
        }
    }

    #[test]
    fn every_phone_but_q_folds_and_every_class_is_reached() {
        let mut reached = HashSet::new();
        for (i, p) in PHONES_61.iter().enumerate() {
            match fold_39(i) {
                Some(c) => {
                    reached.insert(c);
                }
                None => assert_eq!(*p, "q"),
            }
        }
        assert_eq!(reached.len(), 39);
        assert_eq!(fold_39(phone_index("q").unwrap()), None);
        assert_eq!(fold_39(61), None);
        // A phone that is also a class folds to itself.
        for c in PHONES_39 {
            if let Some(i) = phone_index(c) {
                assert_eq!(fold_39(i), Some(class_39_index(c).unwrap()), "{c}");
            }
        }
    }

    #[test]
    fn known_foldings() {
        let pairs = [
            ("ao", "aa"),
            ("ix", "ih"),
            ("zh", "sh"),
            ("bcl", "sil"),
            ("dcl", "sil"),
            ("gcl", "sil"),
            ("pcl", "sil"),
            ("tcl", "sil"),
            ("kcl", "sil"),
            ("epi", "sil"),
            ("pau", "sil"),
            ("h#", "sil"),
            ("ax", "ah"),
            ("ax-h", "ah"),
            ("hv", "hh"),
            ("axr", "er"),
            ("el", "l"),
            ("em", "m"),
            ("en", "n"),
            ("nx", "n"),
            ("eng", "ng"),
            ("ux", "uw"),
            ("iy", "iy"),
            ("s", "s"),
        ];
        for (p, c) in pairs {
            let got = fold_39(phone_index(p).unwrap()).map(|i| PHONES_39[i]);
            assert_eq!(got, Some(c), "{p}");
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(phone_index("H#"), phone_index("h#"));
        assert_eq!(phone_index("AX-H"), Some(6));
        assert_eq!(phone_index("xx"), None);
        assert_eq!(phone_index(""), None);
    }

    #[test]
    fn folded_match_rules() {
        let i = |s| phone_index(s).unwrap();
        assert_eq!(folded_match(i("ao"), i("aa")), Some(true));
        assert_eq!(folded_match(i("aa"), i("ae")), Some(false));
        assert_eq!(folded_match(i("q"), i("aa")), Some(false));
        assert_eq!(folded_match(i("aa"), i("q")), None);
        assert_eq!(folded_match(i("q"), i("q")), None);
    }
}
