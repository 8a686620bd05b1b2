//! The byte-level driver: every committed corpus input of a target first, then seeded mutations
//! of them until a time or run budget is spent. No coverage feedback (that needs nightly
//! instrumentation): the corpus and the dictionary carry the structure, the mutations the noise.
//!
//! A panic is a failure. A mutated input that panics is written to
//! `corpus/<target>/crash-<hash>`, so it is replayed first by every later run, and the target
//! stops there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// One fuzz target: a function that feeds `input` to a real parser and panics when a property
/// fails.
pub struct Target {
    /// Also the name of its corpus folder.
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Tokens worth inserting besides those taken from the corpus.
    pub dictionary: &'static [&'static str],
    /// Mutations never grow an input past this many bytes.
    pub max_len: usize,
}

/// How long a target is mutated: whichever runs out first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    pub runs: u64,
}

/// What one target's run found.
#[derive(Debug)]
pub struct Report {
    pub target: &'static str,
    /// Corpus inputs replayed.
    pub corpus: usize,
    /// Mutated inputs run.
    pub runs: u64,
    pub crash: Option<Crash>,
}

/// An input that made the target panic, and the panic's message.
#[derive(Debug)]
pub struct Crash {
    pub input: PathBuf,
    pub message: String,
}

/// `components/fuzz/corpus/<target>`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target)
}

/// The corpus inputs of `dir`, by file name so every run replays them in the same order.
pub fn load_corpus(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.into_iter().filter_map(|p| Some((p.clone(), std::fs::read(&p).ok()?))).collect()
}

/// Replays `target`'s corpus, then mutates it for `budget` from `seed`.
pub fn fuzz(target: &Target, seed: u64, budget: Budget) -> Report {
    let dir = corpus_dir(target.name);
    let corpus = load_corpus(&dir);
    let mut report = Report { target: target.name, corpus: corpus.len(), runs: 0, crash: None };
    for (path, input) in &corpus {
        if let Err(message) = run_once(target, input) {
            report.crash = Some(Crash { input: path.clone(), message });
            return report;
        }
    }
    let inputs: Vec<&[u8]> = corpus.iter().map(|(_, input)| input.as_slice()).collect();
    let mut mutator = Mutator::new(seed ^ fnv1a(target.name.as_bytes()), &inputs, target);
    let started = Instant::now();
    while report.runs < budget.runs && started.elapsed() < budget.time {
        let input = mutator.next(&inputs);
        report.runs += 1;
        if let Err(message) = run_once(target, &input) {
            let path = dir.join(format!("crash-{}", short_hash(&input)));
            let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &input));
            let message = match saved {
                Ok(()) => message,
                Err(e) => format!("{message} (and the input could not be saved: {e})"),
            };
            report.crash = Some(Crash { input: path, message });
            break;
        }
    }
    report
}

/// Runs the target on one input; `Err` holds the panic's message.
pub fn run_once(target: &Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic with a non-string payload".into())
    })
}

fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Bytes parsers trip on, besides random ones.
const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\"\\'{}[]()=&;:,./%+-_ \t\r\n0129aAzZ";

/// Numbers at the edges of the integer types and of the upload chunk size.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0",
    "1.5",
    "1e308",
    "127",
    "255",
    "65535",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "5242879",
    "5242880",
    "5242881",
    "10485760",
];

/// Picks a corpus input and stacks one to four mutations on it.
pub struct Mutator {
    rng: Rng,
    dictionary: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, corpus: &[&[u8]], target: &Target) -> Mutator {
        let mut dictionary: Vec<Vec<u8>> = corpus.iter().flat_map(|input| tokens(input)).collect();
        dictionary.extend(target.dictionary.iter().map(|t| t.as_bytes().to_vec()));
        dictionary.extend(INTERESTING_NUMBERS.iter().map(|t| t.as_bytes().to_vec()));
        dictionary.sort();
        dictionary.dedup();
        Mutator { rng: Rng::new(seed), dictionary, max_len: target.max_len.max(1) }
    }

    /// The next input to run.
    pub fn next(&mut self, corpus: &[&[u8]]) -> Vec<u8> {
        let mut input = corpus.get(self.rng.below(corpus.len())).map(|c| c.to_vec()).unwrap_or_default();
        for _ in 0..1 + self.rng.below(4) {
            let other = corpus.get(self.rng.below(corpus.len())).copied().unwrap_or_default();
            self.mutate(&mut input, other);
        }
        input.truncate(self.max_len);
        input
    }

    fn mutate(&mut self, input: &mut Vec<u8>, other: &[u8]) {
        let rng = &mut self.rng;
        let len = input.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next_u64() as u8).collect();
                input.splice(at..at, bytes);
            }
            3 => {
                // A run of one byte: deep nesting, long names, many separators.
                let at = rng.below(len + 1);
                let byte = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
                let longest = if rng.below(4) == 0 { 4096 } else { 64 };
                let count = 1 + rng.below(longest);
                input.splice(at..at, std::iter::repeat_n(byte, count));
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = start + 1 + rng.below((len - start).min(64));
                input.drain(start..end);
            }
            5 if len > 0 => {
                // Repeat a range: long lists, duplicated fields, huge tokens.
                let start = rng.below(len);
                let end = start + 1 + rng.below((len - start).min(256));
                let piece = input[start..end].to_vec();
                let most = if rng.below(8) == 0 { 256 } else { 4 };
                let times = 1 + rng.below(most);
                let at = rng.below(len + 1);
                input.splice(at..at, piece.repeat(times));
            }
            6 if !other.is_empty() => {
                // Splice: this input's head with another's tail.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            7 | 8 if !self.dictionary.is_empty() => {
                let token = self.dictionary[rng.below(self.dictionary.len())].clone();
                let at = rng.below(len + 1);
                if rng.below(2) == 0 || len == 0 {
                    input.splice(at..at, token);
                } else {
                    // Overwrite the word at `at` instead.
                    let end = (at..len).find(|&i| !is_word(input[i])).unwrap_or(len).max((at + 1).min(len));
                    input.splice(at..end, token);
                }
            }
            9 => {
                // Swap a number for one at an edge.
                let digits: Vec<usize> = (0..len).filter(|&i| input[i].is_ascii_digit()).collect();
                let number = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())].as_bytes();
                match digits.get(rng.below(digits.len())) {
                    Some(&at) => {
                        let start =
                            (0..=at).rev().take_while(|&i| input[i].is_ascii_digit()).last().unwrap_or(at);
                        let end = (at..len).find(|&i| !input[i].is_ascii_digit()).unwrap_or(len);
                        input.splice(start..end, number.iter().copied());
                    }
                    None => {
                        let at = rng.below(len + 1);
                        input.splice(at..at, number.iter().copied());
                    }
                }
            }
            _ if len > 1 => {
                // Swap two lines (or halves): frames, queries and script steps in another order.
                let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                    lines.swap(a, b);
                    *input = lines.join(&b'\n');
                } else {
                    let mid = rng.below(len);
                    input.rotate_left(mid);
                }
            }
            _ => input.push(rng.next_u64() as u8),
        }
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_$-".contains(&b)
}

/// Words (`equal`, `$createdAt`, `a_session_p`) and short quoted strings of a corpus input.
fn tokens(input: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> =
        input.split(|&b| !is_word(b)).filter(|w| (2..=32).contains(&w.len())).map(<[u8]>::to_vec).collect();
    let mut rest = input;
    while let Some(open) = rest.iter().position(|&b| b == b'"') {
        let after = &rest[open + 1..];
        let Some(close) = after.iter().position(|&b| b == b'"') else { break };
        if close <= 32 {
            out.push(rest[open..open + close + 2].to_vec());
        }
        rest = &after[close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: &[u8]) {}

    fn panics_on_x(input: &[u8]) {
        assert!(!input.contains(&b'X'), "found an X");
    }

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let target = Target { name: "none", run: nothing, dictionary: &["equal"], max_len: 512 };
        let corpus: &[&[u8]] = &[b"{\"method\":\"equal\"}", b"a[0]=1&a[1]=2"];
        let mut a = Mutator::new(7, corpus, &target);
        let mut b = Mutator::new(7, corpus, &target);
        for _ in 0..1000 {
            let input = a.next(corpus);
            assert!(input.len() <= 512);
            assert_eq!(input, b.next(corpus));
        }
    }

    #[test]
    fn a_panic_is_caught_with_its_message() {
        let target = Target { name: "x", run: panics_on_x, dictionary: &[], max_len: 16 };
        assert_eq!(run_once(&target, b"abc"), Ok(()));
        assert_eq!(run_once(&target, b"aXc"), Err("found an X".to_string()));
    }

    #[test]
    fn tokens_are_words_and_quoted_strings() {
        let found = tokens(br#"{"method":"equal","values":[1]} a_session_p=x"#);
        for expected in [&b"method"[..], b"equal", b"\"values\"", b"a_session_p"] {
            assert!(found.iter().any(|t| t == expected), "{}", String::from_utf8_lossy(expected));
        }
    }
}
