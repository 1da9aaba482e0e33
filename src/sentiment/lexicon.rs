//! The embedded lexicon classifier, the default: a faithful, fast port of VADER
//! (Hutto & Gilbert 2014) that reproduces Python `vaderSentiment` 3.3.2 score for score.
//!
//! The lexicon and emoji lexicon (MIT) are compiled into the binary from `models/lexicon/`,
//! so no files are needed at run time. Every rule of the reference is kept, including its
//! quirks (the `but` rule's first-equal-value lookup, ALL-CAPS emphasis on a zero valence,
//! idioms only checked three words in), because parity with the reference is the contract:
//! `tests/lexicon_parity.rs` compares against the Python package on the shared data.
//!
//! Speed comes from doing the reference's work once per token instead of once per rule:
//! one pass splits the text (no regex), each token is lower-cased into a stack buffer and
//! looked up once in a single Fx hash map that knows its valence, booster value, negation
//! flag and the handful of words the rules test for; the rules then read those flags.

use super::{Classifier, ClassifierConfig, SentimentError};
use crate::model::Sentiment;
use rustc_hash::FxHashMap;

/// `vader_lexicon.txt` from the vaderSentiment 3.3.2 wheel, unchanged.
const VADER_LEXICON: &str = include_str!("../../models/lexicon/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` from the vaderSentiment 3.3.2 wheel, unchanged.
const EMOJI_LEXICON: &str = include_str!("../../models/lexicon/emoji_utf8_lexicon.txt");

// Empirically derived constants of the reference (names as there).
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Single-word boosters (+) and dampeners (−). The reference's multi-word entries
/// ("just enough", "kind of", "sort of") can never equal one whitespace-free token; they only
/// act through the n-gram check in [`special_idioms`].
const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// Words the rules compare against, so each token is classified by one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Word {
    #[default]
    Other,
    No,
    Kind,
    Of,
    But,
    Least,
    At,
    Very,
    Or,
    Nor,
    Never,
    So,
    This,
    Without,
    Doubt,
    The,
    Shit,
    Bomb,
    Bad,
    Ass,
    Bus,
    Stop,
    Yeah,
    Right,
    Death,
    Kiss,
    To,
    Die,
    For,
    Beating,
    Heart,
    Just,
    Enough,
    Sort,
}

const WORDS: &[(&str, Word)] = &[
    ("no", Word::No),
    ("kind", Word::Kind),
    ("of", Word::Of),
    ("but", Word::But),
    ("least", Word::Least),
    ("at", Word::At),
    ("very", Word::Very),
    ("or", Word::Or),
    ("nor", Word::Nor),
    ("never", Word::Never),
    ("so", Word::So),
    ("this", Word::This),
    ("without", Word::Without),
    ("doubt", Word::Doubt),
    ("the", Word::The),
    ("shit", Word::Shit),
    ("bomb", Word::Bomb),
    ("bad", Word::Bad),
    ("ass", Word::Ass),
    ("bus", Word::Bus),
    ("stop", Word::Stop),
    ("yeah", Word::Yeah),
    ("right", Word::Right),
    ("death", Word::Death),
    ("kiss", Word::Kiss),
    ("to", Word::To),
    ("die", Word::Die),
    ("for", Word::For),
    ("beating", Word::Beating),
    ("heart", Word::Heart),
    ("just", Word::Just),
    ("enough", Word::Enough),
    ("sort", Word::Sort),
];

/// The reference's SPECIAL_CASES that span two or three tokens ("badass" is one token and
/// can never equal a space-joined sequence, so it never fires there either).
const SPECIAL_CASES: &[(&[Word], f64)] = &[
    (&[Word::The, Word::Shit], 3.0),
    (&[Word::The, Word::Bomb], 3.0),
    (&[Word::Bad, Word::Ass], 1.5),
    (&[Word::Bus, Word::Stop], 0.0),
    (&[Word::Yeah, Word::Right], -2.0),
    (&[Word::Kiss, Word::Of, Word::Death], -1.5),
    (&[Word::To, Word::Die, Word::For], 3.0),
    (&[Word::Beating, Word::Heart], 3.5),
];

/// The reference's multi-word BOOSTER_DICT entries, used as n-grams before a lexicon word.
const BOOSTER_NGRAMS: &[&[Word]] = &[
    &[Word::Just, Word::Enough],
    &[Word::Kind, Word::Of],
    &[Word::Sort, Word::Of],
];

/// What one lookup tells about a lower-cased token.
#[derive(Debug, Clone, Copy, Default)]
struct WordInfo {
    in_lexicon: bool,
    valence: f64,
    /// +1 booster (B_INCR), −1 dampener (B_DECR), 0 neither: every single-word entry is one
    /// of the two, and a sign keeps the token small (tokens are copied a lot).
    booster: i8,
    negate: bool,
    word: Word,
}

impl WordInfo {
    fn is_booster(&self) -> bool {
        self.booster != 0
    }

    fn booster_value(&self) -> f64 {
        if self.booster > 0 {
            B_INCR
        } else {
            B_DECR
        }
    }
}

/// A token of the text being scored, with everything the rules ask about it.
#[derive(Debug, Clone, Copy, Default)]
struct Token {
    info: WordInfo,
    /// Python `str.isupper()` of the token as written.
    upper: bool,
    /// `negated([token])`: a NEGATE word or containing "n't".
    negated: bool,
}

/// VADER's four scores, rounded like the reference (neg/neu/pos to 3 places, compound to 4).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Scores {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
}

/// Reusable buffers so scoring many texts allocates nothing per text in the steady state.
#[derive(Debug, Default)]
pub struct Scratch {
    tokens: Vec<Token>,
    sentiments: Vec<f64>,
    text: String,
}

/// The embedded VADER scorer (no thresholds; see [`Lexicon`] for the classifier).
#[derive(Debug, Clone)]
pub struct Vader {
    words: WordTable,
    emojis: FxHashMap<char, &'static str>,
}

/// Keys are at most this many bytes (the longest VADER entry has 19); a token is packed
/// into three little-endian words, zero-padded, for hashing and comparing without loops.
const KEY_BYTES: usize = 24;
type Packed = [u64; 3];

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of ASCII-only `x` that lie in `lo..=hi`, as the high bit of each byte. Exact for
/// bytes below 0x80 (no carry can cross a byte).
#[inline(always)]
fn swar_in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let ge_lo = x.wrapping_add(ONES * u64::from(0x80 - lo));
    let gt_hi = x.wrapping_add(ONES * u64::from(0x80 - hi - 1));
    ge_lo & !gt_hi & HIGHS
}

/// Bytes of ASCII-only `x` equal to `b`, as the high bit of each byte (exact).
#[inline(always)]
fn swar_eq(x: u64, b: u8) -> u64 {
    swar_in_range(x, b, b)
}

fn pack(bytes: &[u8]) -> Option<Packed> {
    if bytes.len() > KEY_BYTES {
        return None;
    }
    let mut buf = [0u8; KEY_BYTES];
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(pack_buf(&buf))
}

#[inline(always)]
fn pack_buf(buf: &[u8; KEY_BYTES]) -> Packed {
    let word = |k: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[k * 8..k * 8 + 8]);
        u64::from_le_bytes(w)
    };
    [word(0), word(1), word(2)]
}

/// Hash of a packed key: three independent multiplies, then a fold so the high bits (the
/// table index) depend on every byte.
#[inline(always)]
fn hash_packed(p: &Packed) -> u64 {
    let h = p[0].wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ p[1].wrapping_mul(0xC2B2_AE3D_27D4_EB4F).rotate_left(21)
        ^ p[2].wrapping_mul(0x1656_67B1_9E37_79F9).rotate_left(42);
    (h ^ (h >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Open-addressing table from lower-cased word to [`WordInfo`], at most half full. A slot
/// holds 32 bits of the hash beside the entry index, so most misses (most tokens are not in
/// the lexicon) are decided by one 8-byte load without touching the keys.
#[derive(Debug, Clone)]
struct WordTable {
    /// `(hash tag << 32) | (entry index + 1)`; 0 is an empty slot.
    slots: Vec<u64>,
    shift: u32,
    keys: Vec<(Packed, usize)>,
    infos: Vec<WordInfo>,
}

impl WordTable {
    fn build(words: FxHashMap<&'static str, WordInfo>) -> WordTable {
        let size = (words.len() * 2).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut table = WordTable {
            slots: vec![0; size],
            shift,
            keys: Vec::with_capacity(words.len()),
            infos: Vec::with_capacity(words.len()),
        };
        for (key, info) in words {
            // Longer keys could never be looked up; none exists (a unit test checks), and
            // the multi-word ones among them can never match a token anyway.
            let Some(packed) = pack(key.as_bytes()) else {
                continue;
            };
            let h = hash_packed(&packed);
            let mut i = (h >> shift) as usize;
            while table.slots[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            table.keys.push((packed, key.len()));
            table.infos.push(info);
            table.slots[i] = (h << 32) | table.keys.len() as u64;
        }
        table
    }

    #[inline(always)]
    fn get(&self, key: &Packed, len: usize) -> WordInfo {
        let hash = hash_packed(key);
        let mask = self.slots.len() - 1;
        let tag = hash << 32;
        let mut i = (hash >> self.shift) as usize;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return WordInfo::default();
            }
            if slot & !0xFFFF_FFFF == tag {
                let e = (slot & 0xFFFF_FFFF) as usize - 1;
                // The length check matters: a token may contain NUL bytes, like the padding.
                if self.keys[e] == (*key, len) {
                    return self.infos[e];
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn lookup(&self, lowered: &str) -> WordInfo {
        match pack(lowered.as_bytes()) {
            Some(p) => self.get(&p, lowered.len()),
            None => WordInfo::default(),
        }
    }
}

impl Default for Vader {
    fn default() -> Self {
        Vader::new()
    }
}

impl Vader {
    /// Parse the embedded lexicons (about a millisecond).
    pub fn new() -> Vader {
        let mut words: FxHashMap<&'static str, WordInfo> = FxHashMap::default();
        // Like `make_lex_dict`: strip the line, word TAB mean TAB ...; a later duplicate wins.
        for line in VADER_LEXICON.trim_end_matches('\n').split('\n') {
            if line.is_empty() {
                continue;
            }
            let mut fields = py_strip(line).split('\t');
            let (Some(word), Some(measure)) = (fields.next(), fields.next()) else {
                continue;
            };
            // The embedded file is fixed and every line parses (checked by a unit test).
            let Ok(valence) = measure.parse::<f64>() else {
                continue;
            };
            let e = words.entry(word).or_default();
            e.in_lexicon = true;
            e.valence = valence;
        }
        for &(w, b) in BOOSTERS {
            let e = words.entry(w).or_default();
            e.booster = if b > 0.0 { 1 } else { -1 };
        }
        for &w in NEGATE {
            words.entry(w).or_default().negate = true;
        }
        for &(w, id) in WORDS {
            words.entry(w).or_default().word = id;
        }

        let mut emojis = FxHashMap::default();
        // Like `make_emoji_dict`; only single code points can match, since the reference
        // tests one character at a time.
        for line in EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut fields = py_strip(line).split('\t');
            let (Some(emoji), Some(description)) = (fields.next(), fields.next()) else {
                continue;
            };
            let mut chars = emoji.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emojis.insert(c, description);
            }
        }
        Vader {
            words: WordTable::build(words),
            emojis,
        }
    }

    /// VADER's scores for one text (allocates scratch buffers; use
    /// [`Vader::scores_with`] in loops).
    pub fn polarity_scores(&self, text: &str) -> Scores {
        self.scores_with(text, &mut Scratch::default())
    }

    /// VADER's scores for one text, reusing `scratch` between calls.
    pub fn scores_with(&self, text: &str, scratch: &mut Scratch) -> Scores {
        let Scratch {
            tokens,
            sentiments,
            text: replaced,
        } = scratch;
        let text = self.replace_emojis(text, replaced);
        let (exclamations, questions) = self.tokenize(text, tokens);
        compute_sentiments(tokens, sentiments);
        but_check(tokens, sentiments);
        score_valence(sentiments, exclamations, questions)
    }

    /// The reference's emoji pass: each emoji code point becomes its description, preceded by
    /// a space unless the previous character was a space. ASCII texts never change.
    fn replace_emojis<'a>(&self, text: &'a str, out: &'a mut String) -> &'a str {
        if text.is_ascii() {
            return text;
        }
        let Some(first) = text
            .char_indices()
            .find(|(_, c)| self.emojis.contains_key(c))
        else {
            return text;
        };
        out.clear();
        out.push_str(&text[..first.0]);
        let mut prev_space = text[..first.0].chars().next_back().is_none_or(|c| c == ' ');
        for c in text[first.0..].chars() {
            if let Some(description) = self.emojis.get(&c) {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(description);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        // The reference strips the result; splitting on whitespace makes that a no-op here.
        out.as_str()
    }

    /// Split like `str.split()`, strip punctuation like `_strip_punc_if_word`, and classify
    /// every token. Returns the counts of `!` and `?` in the text.
    fn tokenize(&self, text: &str, tokens: &mut Vec<Token>) -> (usize, usize) {
        tokens.clear();
        let bytes = text.as_bytes();
        if text.is_ascii() {
            self.split_ascii(bytes, tokens)
        } else {
            for word in text.split(is_py_space).filter(|w| !w.is_empty()) {
                tokens.push(self.token(word));
            }
            let exclamations = bytes.iter().filter(|&&b| b == b'!').count();
            let questions = bytes.iter().filter(|&&b| b == b'?').count();
            (exclamations, questions)
        }
    }

    /// `str.split()` for ASCII text, eight bytes at a time: a mask of whitespace bytes per
    /// word gives token starts (non-space after space) and ends (space after non-space).
    /// Counts `!` and `?` on the way.
    fn split_ascii(&self, bytes: &[u8], tokens: &mut Vec<Token>) -> (usize, usize) {
        let (mut exclamations, mut questions) = (0, 0);
        let mut start = 0;
        // Whether the byte before the current chunk was whitespace (text start counts as such).
        let mut prev_space = true;
        let mut offset = 0;
        while offset < bytes.len() {
            // The tail is padded with spaces, which closes a final token inside it.
            let x = load8(bytes, offset, b' ');
            exclamations += swar_eq(x, b'!').count_ones() as usize;
            questions += swar_eq(x, b'?').count_ones() as usize;
            // Candidates are bytes <= 0x20; usually all of them are spaces.
            let low = swar_in_range(x, 0, 0x20);
            let mut space = swar_eq(x, b' ');
            if low != space {
                space = 0;
                for (k, b) in x.to_le_bytes().into_iter().enumerate() {
                    if is_ascii_py_space(b) {
                        space |= 0x80 << (8 * k);
                    }
                }
            }
            let non_space = !space & HIGHS;
            let space_before = (space << 8) | if prev_space { 0x80 } else { 0 };
            let non_space_before = (non_space << 8) | if prev_space { 0 } else { 0x80 };
            let starts = non_space & space_before;
            let mut edges = starts | (space & non_space_before);
            while edges != 0 {
                let bit = edges.trailing_zeros();
                let pos = offset + (bit / 8) as usize;
                if starts & (1 << bit) != 0 {
                    start = pos;
                } else {
                    tokens.push(self.ascii_token(bytes, start, pos));
                }
                edges &= edges - 1;
            }
            prev_space = space >> 63 != 0;
            offset += 8;
        }
        // Only when the text length is a multiple of eight can a token reach the end.
        if !prev_space {
            tokens.push(self.ascii_token(bytes, start, bytes.len()));
        }
        (exclamations, questions)
    }

    fn token(&self, raw: &str) -> Token {
        if raw.is_ascii() {
            self.ascii_token(raw.as_bytes(), 0, raw.len())
        } else {
            self.unicode_token(raw)
        }
    }

    /// The common case, branch-light: strip, load the token as words straight from the
    /// text, find case and apostrophes and lower-case with word-wide bit tricks, then one
    /// table lookup. The token is `text[start..end]`.
    #[inline]
    fn ascii_token(&self, text: &[u8], start: usize, end: usize) -> Token {
        // `_strip_punc_if_word`: strip ASCII punctuation (Python's `string.punctuation`); keep
        // the original if two or fewer characters remain (emoticons such as ":)" or ":D").
        let (mut s, mut e) = (start, end);
        while s < e && is_punct(text[s]) {
            s += 1;
        }
        while e > s && is_punct(text[e - 1]) {
            e -= 1;
        }
        if e - s <= 2 {
            (s, e) = (start, end);
        }
        let len = e - s;
        if len > KEY_BYTES {
            return long_ascii_token(&text[s..e]);
        }
        let mut packed: Packed = [0; 3];
        let (mut upper, mut lower, mut apostrophe) = (0, 0, 0);
        for (k, w) in packed.iter_mut().enumerate().take(len.div_ceil(8)) {
            let rest = len - 8 * k;
            let mut x = load8(text, s + 8 * k, 0);
            if rest < 8 {
                x &= (1u64 << (8 * rest)) - 1;
            }
            let u = swar_in_range(x, b'A', b'Z');
            upper |= u;
            lower |= swar_in_range(x, b'a', b'z');
            apostrophe |= swar_eq(x, b'\'');
            *w = x | (u >> 2); // 0x80 >> 2 = 0x20: 'A' → 'a'
        }
        let info = self.words.get(&packed, len);
        Token {
            info,
            upper: upper != 0 && lower == 0,
            negated: info.negate || (apostrophe != 0 && has_nt(&text[s..e])),
        }
    }

    fn unicode_token(&self, raw: &str) -> Token {
        let stripped = raw.trim_matches(|c: char| c.is_ascii_punctuation());
        let word = if stripped.chars().count() <= 2 {
            raw
        } else {
            stripped
        };
        let lowered = word.to_lowercase();
        let info = self.words.lookup(&lowered);
        Token {
            info,
            upper: py_isupper(word),
            negated: info.negate || lowered.contains("n't"),
        }
    }
}

/// Eight bytes of `bytes` from `offset` as a little-endian word, `pad` past the end.
#[inline(always)]
fn load8(bytes: &[u8], offset: usize, pad: u8) -> u64 {
    if let Some(chunk) = bytes.get(offset..offset + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        u64::from_le_bytes(w)
    } else {
        let mut w = [pad; 8];
        let rest = &bytes[offset.min(bytes.len())..];
        w[..rest.len()].copy_from_slice(rest);
        u64::from_le_bytes(w)
    }
}

/// Python's `string.punctuation` (the ASCII punctuation characters), by table.
#[inline(always)]
fn is_punct(b: u8) -> bool {
    static TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = (i as u8).is_ascii_punctuation();
            i += 1;
        }
        t
    };
    TABLE[b as usize]
}

/// A token longer than any key: only its case and "n't" matter.
#[cold]
fn long_ascii_token(word: &[u8]) -> Token {
    Token {
        info: WordInfo::default(),
        upper: word.iter().any(u8::is_ascii_uppercase) && !word.iter().any(u8::is_ascii_lowercase),
        negated: has_nt(word),
    }
}

/// Contains "n't" case-insensitively (the reference tests the lower-cased token).
fn has_nt(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] | 0x20 == b'n' && w[1] == b'\'' && w[2] | 0x20 == b't')
}

/// Python's `str.isspace()` for ASCII bytes (includes the separators 0x1c–0x1f, unlike Rust).
fn is_ascii_py_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ')
}

/// Python's `str.isspace()`: Unicode White_Space plus the ASCII information separators.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Titlecase letters (category Lt): Python's `isupper()` is false when one is present.
fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{01C5}' | '\u{01C8}' | '\u{01CB}' | '\u{01F2}'
        | '\u{1F88}'..='\u{1F8F}' | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}'
        | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Python's `str.isupper()`: at least one cased character and no lower- or titlecase one.
fn py_isupper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// `polarity_scores`' loop over tokens with `sentiment_valence`, `_least_check` and friends.
fn compute_sentiments(tokens: &[Token], sentiments: &mut Vec<f64>) {
    sentiments.clear();
    let n = tokens.len();
    let upper_count = tokens.iter().filter(|t| t.upper).count();
    // `allcap_differential`: some, but not all, tokens are ALL CAPS.
    let cap_diff = upper_count > 0 && upper_count < n;
    let word = |j: usize| tokens[j].info.word;
    for (i, tok) in tokens.iter().enumerate() {
        let info = &tok.info;
        if info.is_booster() || (i + 1 < n && info.word == Word::Kind && word(i + 1) == Word::Of) {
            sentiments.push(0.0);
            continue;
        }
        if !info.in_lexicon {
            sentiments.push(0.0);
            continue;
        }
        let mut valence = info.valence;
        // "no" before another lexicon word negates it rather than scoring itself.
        if info.word == Word::No && i + 1 != n && tokens[i + 1].info.in_lexicon {
            valence = 0.0;
        }
        if (i > 0 && word(i - 1) == Word::No)
            || (i > 1 && word(i - 2) == Word::No)
            || (i > 2 && word(i - 3) == Word::No && matches!(word(i - 1), Word::Or | Word::Nor))
        {
            valence = info.valence * N_SCALAR;
        }
        // ALL-CAPS emphasis; the reference subtracts for a zero valence too.
        if tok.upper && cap_diff {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && !tokens[i - (start_i + 1)].info.in_lexicon {
                let mut s = scalar_inc_dec(&tokens[i - (start_i + 1)], valence, cap_diff);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = negation_check(valence, tokens, start_i, i);
                if start_i == 2 {
                    valence = special_idioms(valence, tokens, i);
                }
            }
        }
        valence = least_check(valence, tokens, i);
        sentiments.push(valence);
    }
}

fn scalar_inc_dec(tok: &Token, valence: f64, cap_diff: bool) -> f64 {
    if !tok.info.is_booster() {
        return 0.0;
    }
    let mut scalar = tok.info.booster_value();
    if valence < 0.0 {
        scalar *= -1.0;
    }
    if tok.upper && cap_diff {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

fn negation_check(valence: f64, tokens: &[Token], start_i: usize, i: usize) -> f64 {
    let word = |j: usize| tokens[j].info.word;
    let so_or_this = |w: Word| matches!(w, Word::So | Word::This);
    match start_i {
        0 => {
            if tokens[i - 1].negated {
                return valence * N_SCALAR;
            }
        }
        1 => {
            if word(i - 2) == Word::Never && so_or_this(word(i - 1)) {
                return valence * 1.25;
            } else if word(i - 2) == Word::Without && word(i - 1) == Word::Doubt {
                return valence;
            } else if tokens[i - 2].negated {
                return valence * N_SCALAR;
            }
        }
        _ => {
            // As in the reference, `never` is not needed for the second alternative.
            if (word(i - 3) == Word::Never && so_or_this(word(i - 2))) || so_or_this(word(i - 1)) {
                return valence * 1.25;
            } else if word(i - 3) == Word::Without
                && (word(i - 2) == Word::Doubt || word(i - 1) == Word::Doubt)
            {
                return valence;
            } else if tokens[i - 3].negated {
                return valence * N_SCALAR;
            }
        }
    }
    valence
}

fn special_case(seq: &[Word]) -> Option<f64> {
    SPECIAL_CASES
        .iter()
        .find(|(words, _)| *words == seq)
        .map(|&(_, v)| v)
}

/// `_special_idioms_check` (only reached with `i >= 3`).
fn special_idioms(mut valence: f64, tokens: &[Token], i: usize) -> f64 {
    let w = |j: usize| tokens[j].info.word;
    let (w3, w2, w1, w0) = (w(i - 3), w(i - 2), w(i - 1), w(i));
    let sequences: [&[Word]; 5] = [
        &[w1, w0],
        &[w2, w1, w0],
        &[w2, w1],
        &[w3, w2, w1],
        &[w3, w2],
    ];
    if let Some(v) = sequences.iter().find_map(|s| special_case(s)) {
        valence = v;
    }
    if tokens.len() - 1 > i {
        if let Some(v) = special_case(&[w0, w(i + 1)]) {
            valence = v;
        }
    }
    if tokens.len() - 1 > i + 1 {
        if let Some(v) = special_case(&[w0, w(i + 1), w(i + 2)]) {
            valence = v;
        }
    }
    let ngrams: [&[Word]; 3] = [&[w3, w2, w1], &[w3, w2], &[w2, w1]];
    for ngram in ngrams {
        if BOOSTER_NGRAMS.contains(&ngram) {
            valence += B_DECR;
        }
    }
    valence
}

fn least_check(valence: f64, tokens: &[Token], i: usize) -> f64 {
    let prev_is_least = |j: usize| !tokens[j].info.in_lexicon && tokens[j].info.word == Word::Least;
    if i > 1 && prev_is_least(i - 1) {
        let w2 = tokens[i - 2].info.word;
        if w2 != Word::At && w2 != Word::Very {
            return valence * N_SCALAR;
        }
    } else if i > 0 && prev_is_least(i - 1) {
        return valence * N_SCALAR;
    }
    valence
}

/// `_but_check`, including its quirk: each value is looked up with `list.index`, i.e. the
/// first position holding an equal value, which may not be the position being visited.
fn but_check(tokens: &[Token], sentiments: &mut [f64]) {
    let Some(bi) = tokens.iter().position(|t| t.info.word == Word::But) else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        // `sentiment` is in the list (at `k` at the latest), so `position` always finds it.
        let si = sentiments.iter().position(|&s| s == sentiment).unwrap_or(k);
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

fn score_valence(sentiments: &[f64], exclamations: usize, questions: usize) -> Scores {
    if sentiments.is_empty() {
        return Scores::default();
    }
    let mut sum_s: f64 = sentiments.iter().sum();
    let ep = exclamations.min(4) as f64 * 0.292;
    let qm = if questions > 1 {
        if questions <= 3 {
            questions as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    let amplifier = ep + qm;
    if sum_s > 0.0 {
        sum_s += amplifier;
    } else if sum_s < 0.0 {
        sum_s -= amplifier;
    }
    let compound = (sum_s / (sum_s * sum_s + 15.0).sqrt()).clamp(-1.0, 1.0);

    let mut pos_sum = 0.0;
    let mut neg_sum = 0.0;
    let mut neu_count = 0usize;
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amplifier;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amplifier;
    }
    let total = pos_sum + neg_sum.abs() + neu_count as f64;
    Scores {
        neg: py_round((neg_sum / total).abs(), 3),
        neu: py_round((neu_count as f64 / total).abs(), 3),
        pos: py_round((pos_sum / total).abs(), 3),
        compound: py_round(compound, 4),
    }
}

/// Python's `round(x, digits)`: correctly rounded, ties to even on the exact binary value.
/// The multiply-and-round fast path is exact unless the value sits next to a tie, where the
/// (exact) decimal formatter decides.
fn py_round(x: f64, digits: i32) -> f64 {
    let m = match digits {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(digits),
    };
    let y = x * m;
    let frac = (y - y.trunc()).abs();
    if (frac - 0.5).abs() > 1e-6 {
        y.round() / m
    } else {
        format!("{:.*}", digits as usize, x).parse().unwrap_or(x)
    }
}

/// The lexicon classifier: VADER's compound score labelled with the configured thresholds.
pub struct Lexicon {
    vader: Vader,
    config: ClassifierConfig,
}

impl Lexicon {
    pub fn new(config: &ClassifierConfig) -> Lexicon {
        Lexicon {
            vader: Vader::new(),
            config: config.clone(),
        }
    }

    /// VADER compound score in [-1, 1].
    pub fn compound(&self, text: &str) -> f64 {
        self.vader.polarity_scores(text).compound
    }

    /// All four VADER scores (neg/neu/pos proportions and compound), e.g. for features.
    pub fn scores(&self, text: &str) -> Scores {
        self.vader.polarity_scores(text)
    }

    /// The underlying scorer, for batch work with a reused [`Scratch`].
    pub fn vader(&self) -> &Vader {
        &self.vader
    }
}

impl Classifier for Lexicon {
    fn name(&self) -> &str {
        "lexicon"
    }

    fn classify_batch(&self, texts: &[&str]) -> Result<Vec<Sentiment>, SentimentError> {
        let mut scratch = Scratch::default();
        Ok(texts
            .iter()
            .map(|t| {
                let score = self.vader.scores_with(t, &mut scratch).compound as f32;
                Sentiment {
                    label: self.config.label_for(score),
                    score,
                    confidence: score.abs().max(0.5),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compound(text: &str) -> f64 {
        Vader::new().polarity_scores(text).compound
    }

    #[test]
    fn embedded_lexicons_parse_completely() {
        let v = Vader::new();
        let lexicon_lines = VADER_LEXICON.lines().filter(|l| !l.is_empty()).count();
        // 7,520 lines with 14 duplicate words (the later entry wins, as in Python).
        assert_eq!(lexicon_lines, 7520);
        assert_eq!(v.words.infos.iter().filter(|w| w.in_lexicon).count(), 7506);
        assert!(v.words.keys.len() > 7506);
        let longest = VADER_LEXICON
            .lines()
            .filter_map(|l| l.split('\t').next())
            .map(str::len)
            .max();
        assert!(
            longest <= Some(KEY_BYTES),
            "a lexicon key is longer than KEY_BYTES"
        );
        assert!(v.words.lookup("good").in_lexicon);
        assert!(!v.words.lookup("goodx").in_lexicon);
        assert_eq!(v.emojis.len(), 1212);
        assert_eq!(
            v.emojis.get(&'😁').copied(),
            Some("beaming face with smiling eyes")
        );
    }

    // Expected values printed by vaderSentiment 3.3.2's own demo (`python -m vaderSentiment`).
    #[test]
    fn reference_demo_sentences() {
        let cases: &[(&str, f64)] = &[
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is smart, handsome, and funny!", 0.8439),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            ("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.9469),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("The book was good.", 0.4404),
            ("At least it isn't a horrible book.", 0.431),
            ("The book was only kind of good.", 0.3832),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
            ),
            ("Today SUX!", -0.5461),
            ("Today only kinda sux! But I'll get by, lol", 0.5249),
            ("Make sure you :) or :D today!", 0.8633),
            ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875),
            ("Not bad at all", 0.431),
            ("Sentiment analysis has never been good.", -0.3412),
            ("Sentiment analysis has never been this good!", 0.5672),
            ("Most automated sentiment analysis tools are shit.", -0.5574),
            ("With VADER, sentiment analysis is the shit!", 0.6476),
            ("Other sentiment analysis tools can be quite bad.", -0.5849),
            ("On the other hand, VADER is quite bad ass", 0.802),
            ("VADER is such a badass!", 0.4003),
            ("Without a doubt, excellent idea.", 0.7013),
            ("Roger Dodger is one of the most compelling variations on this theme.", 0.2944),
            ("Roger Dodger is at least compelling as a variation on the theme.", 0.2263),
            ("Roger Dodger is one of the least compelling variations on this theme.", -0.1695),
            ("Not such a badass after all.", -0.2584),
            ("Without a doubt, an excellent idea.", 0.7013),
        ];
        let v = Vader::new();
        for (text, want) in cases {
            assert_eq!(v.polarity_scores(text).compound, *want, "{text}");
        }
    }

    #[test]
    fn empty_and_neutral_texts() {
        assert_eq!(Vader::new().polarity_scores(""), Scores::default());
        assert_eq!(Vader::new().polarity_scores("   \t "), Scores::default());
        let s = Vader::new().polarity_scores("the bus");
        assert_eq!((s.neu, s.compound), (1.0, 0.0));
    }

    #[test]
    fn python_whitespace_and_case_rules() {
        // 0x1f splits in Python, not in Rust's `split_whitespace`.
        assert_eq!(compound("good\u{1f}good"), compound("good good"));
        assert!(py_isupper("ÉCOLE!"));
        assert!(!py_isupper("ǅ"));
        assert!(!py_isupper("123"));
    }

    #[test]
    fn but_check_uses_first_equal_value() {
        // Halving the first value makes it equal to the second, so the reference's
        // `list.index` finds position 0 again and halves it twice; position 1 stays.
        let v = Vader::new();
        let tokens: Vec<Token> = ["good", "fine", "but", "great", "nice"]
            .iter()
            .map(|w| v.token(w))
            .collect();
        let mut s = vec![1.9, 1.9 * 0.5, 0.0, 2.0, 3.0];
        but_check(&tokens, &mut s);
        assert_eq!(s, vec![1.9 * 0.5 * 0.5, 1.9 * 0.5, 0.0, 4.5, 3.0]);
    }

    #[test]
    fn py_round_matches_python() {
        assert_eq!(py_round(0.03125, 4), 0.0312);
        assert_eq!(py_round(0.03135, 4), 0.0314);
        assert_eq!(py_round(-0.74245, 4), -0.7425); // -0.742450000000000054 in binary
        assert_eq!(py_round(0.6666666, 3), 0.667);
    }

    #[test]
    fn classifier_labels_with_thresholds() {
        let lex = Lexicon::new(&ClassifierConfig::default());
        let out = lex
            .classify_batch(&["I love it", "I hate it", "it is a phone"])
            .unwrap();
        use crate::model::Label;
        let labels: Vec<Label> = out.iter().map(|s| s.label).collect();
        assert_eq!(
            labels,
            vec![Label::Positive, Label::Negative, Label::Neutral]
        );
        assert_eq!(lex.name(), "lexicon");
    }
}
