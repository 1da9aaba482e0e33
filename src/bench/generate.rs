//! Seeded generator of realistic mention streams for benchmarks: Zipf-distributed product
//! popularity, diurnal volume, a sentiment mix, several sources and authors.

use crate::config::ProductConfig;
use crate::model::RawMention;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SYLLABLES: &[&str] = &[
    "zen", "tri", "vox", "lum", "ka", "nor", "bel", "quo", "ra", "dex", "mi", "tor", "syn", "pha",
    "gal", "ion", "cor", "vel", "ux", "ar",
];
const SOURCES: &[&str] = &["hackernews", "reddit", "mastodon", "rss", "lemmy"];
const POSITIVE: &[&str] = &[
    "I love the new {p} update, it is fast and reliable!",
    "{p} support was great, they fixed my issue in minutes :)",
    "Honestly {p} is the best purchase I made this year. Highly recommend.",
    "Switched to {p} last week and wow, the design is beautiful.",
    "Big thanks to the {p} team, the launch went really smoothly.",
];
const NEGATIVE: &[&str] = &[
    "{p} is down again?! Can't log in since this morning. Terrible.",
    "The latest {p} release keeps crashing on startup, so frustrating",
    "{p} got way too expensive, thinking about cancelling my plan.",
    "Why is {p} so slow today? Pages take forever to load.",
    "Lost all my data after the {p} update. Worst experience ever.",
];
const NEUTRAL: &[&str] = &[
    "Has anyone compared {p} with the alternatives for a small team?",
    "{p} announced a new pricing page today.",
    "Reading the {p} changelog for version {n}.",
    "Meeting with the {p} sales rep on Tuesday.",
    "Is there a {p} meetup in Berlin this month?",
];

/// Deterministic product names and configs (`count` products, first is the most popular).
pub fn products(count: usize, seed: u64) -> Vec<ProductConfig> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut names: Vec<String> = Vec::with_capacity(count);
    while names.len() < count {
        let parts = rng.gen_range(2..=3);
        let mut n = String::new();
        for _ in 0..parts {
            n.push_str(SYLLABLES[rng.gen_range(0..SYLLABLES.len())]);
        }
        let mut c = n.chars();
        let name = match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => continue,
        };
        if !names.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| ProductConfig {
            aliases: vec![format!("{name} app")],
            exclude: vec![format!("{name} river")],
            name,
            launch: None,
            window: None,
            baseline: None,
        })
        .collect()
}

/// A reproducible stream of mentions spread over `days` before `end`.
pub struct Generator {
    rng: StdRng,
    cumulative: Vec<f64>,
    names: Vec<String>,
    end: DateTime<Utc>,
    days: i64,
    seq: u64,
    /// `Some(total)`: walk the days oldest first, `total / days` mentions each, as a store
    /// fills in real life; `None`: every mention on a random day.
    in_order: Option<u64>,
    emitted: u64,
}

impl Generator {
    pub fn new(products: &[ProductConfig], seed: u64, end: DateTime<Utc>, days: i64) -> Generator {
        // Zipf with s = 1.1: a few products get most of the talk, as in real life.
        let mut acc = 0.0;
        let cumulative = (1..=products.len())
            .map(|k| {
                acc += 1.0 / (k as f64).powf(1.1);
                acc
            })
            .collect();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            cumulative,
            names: products.iter().map(|p| p.name.clone()).collect(),
            end,
            days: days.max(1),
            seq: 0,
            in_order: None,
            emitted: 0,
        }
    }

    fn product(&mut self) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = self.rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.names.len() - 1)
    }

    /// A time with diurnal volume: more posts in the (UTC) afternoon than at night.
    fn time(&mut self) -> DateTime<Utc> {
        let day = match self.in_order {
            Some(total) => {
                let walked = (self.emitted * self.days as u64 / total.max(1)) as i64;
                (self.days - 1 - walked).max(0)
            }
            None => self.rng.gen_range(0..self.days),
        };
        self.emitted += 1;
        loop {
            let secs = self.rng.gen_range(0..86_400i64);
            let phase = (secs as f64 / 86_400.0 - 0.6) * std::f64::consts::TAU;
            let intensity = 0.55 + 0.45 * phase.cos();
            if self.rng.gen::<f64>() < intensity {
                return self.end - Duration::days(day + 1) + Duration::seconds(secs);
            }
        }
    }

    pub fn next_mention(&mut self) -> RawMention {
        self.seq += 1;
        let p = self.product();
        let name = self.names[p].clone();
        let r: f64 = self.rng.gen();
        let templates = if r < 0.35 {
            POSITIVE
        } else if r < 0.60 {
            NEGATIVE
        } else {
            NEUTRAL
        };
        let t = templates[self.rng.gen_range(0..templates.len())];
        let source = SOURCES[self.rng.gen_range(0..SOURCES.len())];
        let text = format!(
            "{} (#{})",
            t.replace("{p}", &name)
                .replace("{n}", &self.rng.gen_range(1..40).to_string()),
            self.seq
        );
        RawMention {
            source: source.to_string(),
            id: format!("{source}-{}", self.seq),
            url: Some(format!("https://{source}.example/{}", self.seq)),
            author: Some(format!("user{}", self.rng.gen_range(0..50_000))),
            published_at: self.time(),
            text,
            language: Some("en".into()),
            engagement: Some(self.rng.gen_range(0..500)),
            products: Vec::new(),
        }
    }

    /// Emit the next `total` mentions day by day, oldest first (within a day, times stay
    /// random), like a store that fills as time passes.
    pub fn in_time_order(mut self, total: usize) -> Generator {
        self.in_order = Some(total as u64);
        self.emitted = 0;
        self
    }

    /// Continue numbering ids after `seq` (a refill of a store must not repeat ids).
    pub fn starting_after(mut self, seq: u64) -> Generator {
        self.seq = seq;
        self
    }

    pub fn take(&mut self, n: usize) -> Vec<RawMention> {
        (0..n).map(|_| self.next_mention()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Matcher;

    #[test]
    fn seeded_zipf_stream_matches_its_products() {
        let ps = products(50, 7);
        let end = Utc::now();
        let a = Generator::new(&ps, 1, end, 30).take(2000);
        let b = Generator::new(&ps, 1, end, 30).take(2000);
        assert_eq!(a, b, "same seed, same stream");
        let m = Matcher::new(&ps);
        let mut counts = vec![0usize; ps.len()];
        for x in &a {
            let found = m.products_in(&x.text);
            assert_eq!(found.len(), 1, "{}", x.text);
            counts[ps.iter().position(|p| p.name == found[0]).unwrap()] += 1;
        }
        assert!(
            counts[0] > counts[10] && counts[10] > counts[49],
            "{counts:?}"
        );
    }

    #[test]
    fn in_time_order_walks_the_days_oldest_first() {
        let ps = products(5, 7);
        let end = Utc::now();
        let xs = Generator::new(&ps, 1, end, 10)
            .in_time_order(1000)
            .take(1000);
        let day = |t: DateTime<Utc>| (end - t).num_days();
        assert_eq!(day(xs[0].published_at), 9);
        assert_eq!(day(xs[999].published_at), 0);
        assert!(xs
            .windows(2)
            .all(|w| day(w[0].published_at) >= day(w[1].published_at)));
        assert!(xs.iter().all(|x| x.published_at <= end));
    }
}
