//! Queueing formulas for sizing capacity: how many servers keep a latency percentile under a target
//! at a given arrival rate. Pure (no IO, no clock, no randomness).
//!
//! The model is M/M/c with FCFS: Poisson arrivals at rate `λ` (requests/s), `c` identical servers
//! each completing `μ` requests/s with exponential service times, one shared queue (a load balancer
//! spreading requests over instances). Real services are not exactly M/M/c, but the model gets the
//! one thing that matters for sizing right: latency explodes as utilisation `ρ = λ/(cμ)` nears 1,
//! and a pool of many servers can run hotter than a pool of few at the same latency.
//!
//! Invalid inputs (NaN, negative rates, `μ ≤ 0`) give `None` rather than a number, so a sizing
//! decision can never be made from garbage telemetry.

/// Erlang C: the probability that an arriving request has to wait, for `c` servers offered
/// `offered_load_erlangs = λ/μ` erlangs.
///
/// Computed through the Erlang B recursion `B₀ = 1`, `Bₖ = A·Bₖ₋₁ / (k + A·Bₖ₋₁)` and then
/// `C = B / (1 − ρ(1 − B))` with `ρ = A/c`. The textbook form `(Aᶜ/c!)·…/Σ Aᵏ/k!` overflows
/// `f64` near `c = 170`; the recursion only ever holds a probability in `[0, 1]`, so it is stable
/// for `c` in the tens of thousands. O(c).
///
/// Returns 1 when the queue is unstable (`A ≥ c`, every request eventually waits) or the load is
/// NaN, which is the conservative answer for sizing; 0 for no load.
pub fn erlang_c(c: u32, offered_load_erlangs: f64) -> f64 {
    let a = offered_load_erlangs;
    if a.is_nan() || a >= f64::from(c) {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    let b = (1..=c).fold(1.0, |b, k| erlang_b_step(b, k, a));
    erlang_c_from_b(b, c, a)
}

/// Mean response time (queueing + service) of M/M/c in seconds: `W = 1/μ + C/(cμ − λ)`.
///
/// The wait is exponential with rate `cμ − λ` given that a request waits at all (probability
/// `C`), hence the second term. `None` when there is no steady state (`λ ≥ cμ`) or the inputs are
/// invalid.
pub fn mmc_mean_response(c: u32, lambda: f64, mu: f64) -> Option<f64> {
    let theta = stable_drain_rate(c, lambda, mu)?;
    Some(1.0 / mu + erlang_c(c, lambda / mu) / theta)
}

/// The `p`-th percentile (`p` in percent, as in `stats::percentile_with_bounds`) of M/M/c
/// response time, in seconds. `None` when unstable, `p` is outside `(0, 100)`, or inputs are invalid.
///
/// Response time is `T = S + W`: the service time `S ~ Exp(μ)` and, independently under FCFS, the
/// wait `W`, which is 0 with probability `1 − C` and otherwise `Exp(θ)` with `θ = cμ − λ` (the
/// standard result `P(W > t) = C·e^{−θt}`). Their sum has the closed-form tail
///
/// ```text
/// P(T > t) = (1 − C)·e^{−μt} + C·P(Exp(μ) + Exp(θ) > t),
/// P(Exp(a) + Exp(b) > t) = e^{−at}·(1 + a·(1 − e^{−(b−a)t})/(b − a)),   a = min, b = max
/// ```
///
/// (the second form avoids the cancellation of `(b·e^{−at} − a·e^{−bt})/(b − a)` when `θ ≈ μ`).
/// The quantile is found by bisection inside a bracket that is itself a valid answer:
/// below by `max(S quantile, W quantile)` since `T ≥ S` and `T ≥ W`, above by the conservative
/// combination `S_{1−ε/2} + W_{1−ε/2}` (`ε = 1 − p/100`; union bound: `T` can only exceed
/// `a + b` if `S > a` or `W > b`). The upper end of the final bracket is returned, so the answer
/// errs on the slow side by at most 1e-12 relative. The exponential service time is the model's
/// approximation of reality; for heavy-tailed service the percentile is underestimated, which is
/// why the plan adds headroom on top.
pub fn mmc_response_quantile(c: u32, lambda: f64, mu: f64, p: f64) -> Option<f64> {
    let theta = stable_drain_rate(c, lambda, mu)?;
    if !(p > 0.0 && p < 100.0) {
        return None;
    }
    Some(response_quantile(
        mu,
        theta,
        erlang_c(c, lambda / mu),
        1.0 - p / 100.0,
    ))
}

/// The smallest number of servers whose `p`-th percentile response time (`p` in percent) is at
/// most `latency_target` seconds with utilisation `< 1`, searching `1..=max_servers`.
///
/// `None` when no such count exists up to `max_servers`, when the target is below the service-time
/// percentile alone (no number of servers can beat the service time itself), or on invalid input.
/// At least 1 is returned even with no load: a service keeps a server.
///
/// The percentile falls monotonically as `c` grows (`C` decreases and `θ = cμ − λ` increases), so
/// the first `c` that meets the target is the smallest. The search starts at the first stable
/// count `⌊λ/μ⌋ + 1` and walks upwards carrying Erlang B along (`Bₖ` from `Bₖ₋₁` is O(1)), so the
/// whole search costs O(answer) — typically the stable count plus a few times `√(λ/μ)` steps
/// (square-root staffing) — never O(max²).
pub fn servers_needed(lambda: f64, mu: f64, p: f64, latency_target: f64, max_servers: u32) -> Option<u32> {
    if !(lambda.is_finite() && lambda >= 0.0 && mu.is_finite() && mu > 0.0 && p > 0.0 && p < 100.0) {
        return None;
    }
    let miss = 1.0 - p / 100.0;
    if latency_target.is_nan() || -miss.ln() / mu > latency_target {
        return None;
    }
    let a = lambda / mu;
    if a >= f64::from(max_servers) {
        return None;
    }
    let first = (a.floor() as u32).saturating_add(1).max(1);
    let mut b = (1..=first).fold(1.0, |b, k| erlang_b_step(b, k, a));
    for c in first..=max_servers {
        let theta = f64::from(c) * mu - lambda;
        let quantile = response_quantile(mu, theta, erlang_c_from_b(b, c, a), miss);
        if quantile <= latency_target {
            return Some(c);
        }
        b = erlang_b_step(b, c.saturating_add(1), a);
    }
    None
}

/// Servers needed to keep utilisation `λ/(cμ)` at or below `target_util`: `⌈λ/(μ·target_util)⌉`,
/// at least 1.
///
/// The rule of thumb sizing (HPA-style): cheap, and right for large pools where queueing delay is
/// negligible below the target; [`servers_needed`] is the latency-aware answer. A relative slack of
/// 1e-12 absorbs rounding so that, say, 100 req/s at 10 req/s per server and 50 % gives 20, not 21.
/// `None` on invalid input (`target_util` outside `(0, 1]`, `μ ≤ 0`, negative or NaN load) or when
/// the answer does not fit in `u32`.
pub fn servers_for_utilization(lambda: f64, mu: f64, target_util: f64) -> Option<u32> {
    let valid = lambda.is_finite() && lambda >= 0.0 && mu.is_finite() && mu > 0.0;
    if !(valid && target_util > 0.0 && target_util <= 1.0) {
        return None;
    }
    let needed = (lambda / (mu * target_util) * (1.0 - 1e-12)).ceil().max(1.0);
    (needed <= f64::from(u32::MAX)).then_some(needed as u32)
}

/// `θ = cμ − λ`, the rate at which a waiting queue drains, when the inputs are valid and the
/// system is stable (`θ > 0`).
fn stable_drain_rate(c: u32, lambda: f64, mu: f64) -> Option<f64> {
    let valid = lambda.is_finite() && lambda >= 0.0 && mu.is_finite() && mu > 0.0;
    let theta = f64::from(c) * mu - lambda;
    (valid && theta > 0.0).then_some(theta)
}

/// One step of the Erlang B recursion: `Bₖ` from `Bₖ₋₁`.
fn erlang_b_step(b: f64, k: u32, a: f64) -> f64 {
    a * b / (f64::from(k) + a * b)
}

/// Erlang C from Erlang B for the same `c` and `a` (requires `a < c`).
fn erlang_c_from_b(b: f64, c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    (b / (1.0 - rho * (1.0 - b))).clamp(0.0, 1.0)
}

/// `P(T > t)` for M/M/c response time (see [`mmc_response_quantile`]).
fn response_tail(mu: f64, theta: f64, wait_prob: f64, t: f64) -> f64 {
    let (a, b) = (mu.min(theta), mu.max(theta));
    let d = b - a;
    // (1 − e^{−dt})/d, which tends to t as d → 0.
    let g = if d * t < 1e-12 { t } else { -(-d * t).exp_m1() / d };
    let hypo = (-a * t).exp() * (1.0 + a * g);
    (1.0 - wait_prob) * (-mu * t).exp() + wait_prob * hypo
}

/// Smallest `t` with `P(T > t) ≤ miss`, bracketed and bisected (see [`mmc_response_quantile`]).
fn response_quantile(mu: f64, theta: f64, wait_prob: f64, miss: f64) -> f64 {
    let wait_quantile = |eps: f64| (wait_prob / eps).ln().max(0.0) / theta;
    let mut lo = (-miss.ln() / mu).max(wait_quantile(miss));
    let mut hi = -(miss / 2.0).ln() / mu + wait_quantile(miss / 2.0);
    for _ in 0..200 {
        if hi - lo <= 1e-12 * hi {
            break;
        }
        let mid = lo + (hi - lo) / 2.0;
        if response_tail(mu, theta, wait_prob, mid) <= miss {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests;
