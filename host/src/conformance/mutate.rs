//! Deterministic mutations of fixture bodies for the robustness check: bit
//! flips, truncations, insertions of hostile bytes, duplicated spans. A
//! fixed seed makes every run (and every CI machine) try the same inputs.

/// A small xorshift generator: deterministic and good enough for fuzzing inputs.
pub struct Rng(u64);

impl Rng {
    /// A generator with a seed (0 is replaced by a constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const HOSTILE: &[&[u8]] = &[
    b"\xff\xfe",
    b"\0",
    b"{",
    b"}}}}",
    b"[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\"",
    b"\\u0000",
    b"%",
    b"&=&=",
    b"99999999999999999999999999",
    b"-1",
    b"null",
    b"\r\n\r\n",
];

/// One mutation of `body`.
pub fn mutate(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    match rng.below(5) {
        0 if !out.is_empty() => {
            for _ in 0..=rng.below(8) {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
        }
        1 => out.truncate(rng.below(out.len() + 1)),
        2 => {
            let at = rng.below(out.len() + 1);
            let insert = HOSTILE[rng.below(HOSTILE.len())];
            out.splice(at..at, insert.iter().copied());
        }
        3 if !out.is_empty() => {
            let start = rng.below(out.len());
            let end = (start + 1 + rng.below(64)).min(out.len());
            let span = out[start..end].to_vec();
            let at = rng.below(out.len() + 1);
            for _ in 0..=rng.below(50) {
                out.splice(at..at, span.iter().copied());
            }
        }
        _ => {
            let at = rng.below(out.len() + 1);
            let removed = rng.below(16);
            out.drain(at..(at + removed).min(out.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let body = br#"{"a":1,"b":"text"}"#;
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| mutate(&mut rng, body)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|m| m.as_slice() != body));
    }

    #[test]
    fn empty_bodies_mutate_without_panicking() {
        let mut rng = Rng::new(1);
        for _ in 0..200 {
            mutate(&mut rng, b"");
        }
    }
}
