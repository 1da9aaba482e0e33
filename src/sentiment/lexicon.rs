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
    is_booster: bool,
    booster: f64,
    negate: bool,
    word: Word,
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
    words: FxHashMap<&'static str, WordInfo>,
    emojis: FxHashMap<char, &'static str>,
    /// Longest key in bytes: longer tokens cannot be in the map, so they skip the lookup.
    max_key_len: usize,
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
            e.is_booster = true;
            e.booster = b;
        }
        for &w in NEGATE {
            words.entry(w).or_default().negate = true;
        }
        for &(w, id) in WORDS {
            words.entry(w).or_default().word = id;
        }
        let max_key_len = words.keys().map(|k| k.len()).max().unwrap_or(0);

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
            words,
            emojis,
            max_key_len,
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
        let mut exclamations = 0;
        let mut questions = 0;
        if text.is_ascii() {
            let mut start = None;
            for (i, &b) in bytes.iter().enumerate() {
                exclamations += usize::from(b == b'!');
                questions += usize::from(b == b'?');
                if is_ascii_py_space(b) {
                    if let Some(s) = start.take() {
                        tokens.push(self.token(&text[s..i], true));
                    }
                } else if start.is_none() {
                    start = Some(i);
                }
            }
            if let Some(s) = start {
                tokens.push(self.token(&text[s..], true));
            }
        } else {
            exclamations = bytes.iter().filter(|&&b| b == b'!').count();
            questions = bytes.iter().filter(|&&b| b == b'?').count();
            for word in text.split(is_py_space).filter(|w| !w.is_empty()) {
                tokens.push(self.token(word, false));
            }
        }
        (exclamations, questions)
    }

    fn token(&self, raw: &str, ascii: bool) -> Token {
        // `_strip_punc_if_word`: strip ASCII punctuation; keep the original if two or fewer
        // characters remain (emoticons such as ":)" or ":D").
        let stripped = raw.trim_matches(|c: char| c.is_ascii_punctuation());
        let kept = if ascii {
            stripped.len()
        } else {
            stripped.chars().count()
        };
        let word = if kept <= 2 { raw } else { stripped };
        if word.is_ascii() {
            let bytes = word.as_bytes();
            let mut upper = false;
            let mut lower = false;
            for &b in bytes {
                upper |= b.is_ascii_uppercase();
                lower |= b.is_ascii_lowercase();
            }
            let negated_nt = bytes
                .windows(3)
                .any(|w| w[0] | 0x20 == b'n' && w[1] == b'\'' && w[2] | 0x20 == b't');
            let info = if bytes.len() <= self.max_key_len {
                let mut buf = [0u8; 64];
                if bytes.len() <= buf.len() {
                    let buf = &mut buf[..bytes.len()];
                    for (d, s) in buf.iter_mut().zip(bytes) {
                        *d = s.to_ascii_lowercase();
                    }
                    // ASCII in, ASCII out: always valid UTF-8.
                    std::str::from_utf8(buf)
                        .ok()
                        .and_then(|k| self.words.get(k))
                        .copied()
                        .unwrap_or_default()
                } else {
                    self.lookup(&word.to_ascii_lowercase())
                }
            } else {
                WordInfo::default()
            };
            Token {
                info,
                upper: upper && !lower,
                negated: info.negate || negated_nt,
            }
        } else {
            let lowered = word.to_lowercase();
            let info = self.lookup(&lowered);
            Token {
                info,
                upper: py_isupper(word),
                negated: info.negate || lowered.contains("n't"),
            }
        }
    }

    fn lookup(&self, lowered: &str) -> WordInfo {
        self.words.get(lowered).copied().unwrap_or_default()
    }
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
        if info.is_booster || (i + 1 < n && info.word == Word::Kind && word(i + 1) == Word::Of) {
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
    if !tok.info.is_booster {
        return 0.0;
    }
    let mut scalar = tok.info.booster;
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
    let m = 10f64.powi(digits);
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
        assert_eq!(v.words.values().filter(|w| w.in_lexicon).count(), 7506);
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
            .map(|w| v.token(w, true))
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
