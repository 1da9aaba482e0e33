//! Tail probabilities the detectors need: Poisson, negative binomial and Beta-Binomial
//! upper tails, computed in log space so tiny p-values (1e-12) stay accurate.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised lower incomplete gamma P(a, x).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // Series.
        let mut ap = a;
        let mut sum = 1.0 / a;
        let mut del = sum;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum.ln() - x + a * x.ln() - gln).exp().min(1.0)
    } else {
        1.0 - gamma_q_cf(a, x, gln)
    }
}

/// Regularised upper incomplete gamma Q(a, x) by continued fraction (x ≥ a + 1).
fn gamma_q_cf(a: f64, x: f64, gln: f64) -> f64 {
    const FPMIN: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / FPMIN;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        c = b + an / c;
        if c.abs() < FPMIN {
            c = FPMIN;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    ((-x + a * x.ln() - gln).exp() * h).clamp(0.0, 1.0)
}

/// P(X ≥ k) for X ~ Poisson(mu).
pub fn poisson_upper_tail(k: u64, mu: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    gamma_p(k as f64, mu)
}

/// P(X ≥ k) for X ~ NegativeBinomial with the given mean and size (shape) r.
pub fn negbin_upper_tail(k: u64, mean: f64, r: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    let p = r / (r + mean); // success probability
    let q = 1.0 - p;
    let kf = k as f64;
    let ln_pmf_k = ln_gamma(kf + r) - ln_gamma(r) - ln_gamma(kf + 1.0) + r * p.ln() + kf * q.ln();
    // Sum pmf(k) + pmf(k+1) + ... by the ratio (x + r)/(x + 1) * q, relative to pmf(k).
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut x = kf;
    for _ in 0..1_000_000 {
        term *= (x + r) / (x + 1.0) * q;
        sum += term;
        x += 1.0;
        if term < sum * 1e-16 && (x + r) / (x + 1.0) * q < 1.0 {
            break;
        }
    }
    (ln_pmf_k + sum.ln()).exp().min(1.0)
}

/// P(X ≥ k) for X ~ BetaBinomial(n, a, b).
pub fn beta_binomial_upper_tail(k: u64, n: u64, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let (kf, nf) = (k as f64, n as f64);
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let ln_choose = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0);
    let ln_pmf_k = ln_choose + ln_beta(kf + a, nf - kf + b) - ln_beta(a, b);
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut x = kf;
    while x < nf {
        term *= (nf - x) / (x + 1.0) * (x + a) / (nf - x - 1.0 + b);
        sum += term;
        x += 1.0;
        if term < sum * 1e-17 {
            break;
        }
    }
    (ln_pmf_k + sum.ln()).exp().min(1.0)
}

/// Upper tail of an observed count against an expected count: Poisson, or negative
/// binomial when the baseline's hourly counts are over-dispersed (variance/mean > 1.5).
pub fn count_upper_tail(observed: f64, expected: f64, dispersion: f64) -> f64 {
    let k = observed.max(0.0).round() as u64;
    if dispersion > 1.5 {
        // Sum of hourly NB(r_h, p) with r_h = λ/(φ−1) is NB(Σr_h, p): size = E/(φ−1).
        negbin_upper_tail(k, expected, expected / (dispersion - 1.0))
    } else {
        poisson_upper_tail(k, expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        ((a - b) / b).abs() < rel
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(close(ln_gamma(5.0), (24.0f64).ln(), 1e-12));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-10
        ));
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-12));
    }

    #[test]
    fn poisson_tail_known_values() {
        // P(X >= 3 | 1) = 1 - e^-1 (1 + 1 + 1/2)
        let exact = 1.0 - (-1.0f64).exp() * 2.5;
        assert!(close(poisson_upper_tail(3, 1.0), exact, 1e-10));
        // P(X >= 60 | 20) ≈ 3.7e-12 (exact sum, computed in f64 by direct summation below).
        let mut direct = 0.0;
        let mut ln_pmf = 60.0 * 20f64.ln() - 20.0 - ln_gamma(61.0);
        for x in 60..400 {
            direct += ln_pmf.exp();
            ln_pmf += 20f64.ln() - ((x + 1) as f64).ln();
        }
        assert!(close(poisson_upper_tail(60, 20.0), direct, 1e-8));
    }

    #[test]
    fn negbin_approaches_poisson_for_large_size() {
        let p = poisson_upper_tail(30, 15.0);
        let nb = negbin_upper_tail(30, 15.0, 1e7);
        assert!(close(p, nb, 1e-4), "{p} {nb}");
        // Over-dispersion makes the same count less surprising.
        assert!(negbin_upper_tail(30, 15.0, 5.0) > 10.0 * p);
    }

    #[test]
    fn beta_binomial_tail() {
        // With a = b = 1 the distribution is uniform on 0..=n.
        assert!(close(beta_binomial_upper_tail(7, 9, 1.0, 1.0), 0.3, 1e-10));
        // With a huge prior it approaches Binomial(20, 0.2): P(X >= 8) ≈ 0.0321.
        let p = beta_binomial_upper_tail(8, 20, 2e6, 8e6);
        assert!(close(p, 0.032_143_4, 1e-3), "{p}");
    }

    proptest::proptest! {
        #[test]
        fn tails_are_monotone_probabilities(k in 0u64..200, mu in 0.1f64..100.0) {
            let a = poisson_upper_tail(k, mu);
            let b = poisson_upper_tail(k + 1, mu);
            proptest::prop_assert!((0.0..=1.0).contains(&a));
            proptest::prop_assert!(b <= a + 1e-12);
            let c = negbin_upper_tail(k, mu, 3.0);
            let d = negbin_upper_tail(k + 1, mu, 3.0);
            proptest::prop_assert!((0.0..=1.0).contains(&c) && d <= c + 1e-12);
        }
    }
}
