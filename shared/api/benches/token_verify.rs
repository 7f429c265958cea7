//! What verifying a caller's token costs (issue H §4): a full verification (key lookup by
//! `kid`, signature, claim checks) for each algorithm the fixtures sign with, and a request
//! whose token the verifier has already verified (the SHA-256 lookup in the bounded cache).
//! Figures are printed, never asserted.
//!
//! `cargo bench -p cavra-api --bench token_verify` (`BENCH_ITERATIONS`, default 5,000).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use cavra_api::auth::OidcVerifier;
use cavra_core::oidc::{OidcConfig, verify_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");

fn now_unix() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or(i64::MAX)
}

fn token(alg: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let claims = json!({
        "iss": "https://login.example", "aud": "cavra-approvals", "sub": "user-1",
        "email": "iam@example.com", "groups": ["IAM"], "iat": now_unix(), "exp": now_unix() + 3600,
    });
    jsonwebtoken::encode(&header, &claims, key).expect("the fixture key signs")
}

fn per_call_micros(iterations: u32, mut call: impl FnMut()) -> f64 {
    call(); // warm
    let started = Instant::now();
    for _ in 0..iterations {
        call();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: u32 = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let read = |name: &str| std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture");
    let config = OidcConfig::load(Path::new(&format!("{FIXTURES}/oidc-config.json")))
        .expect("the fixture config loads");
    let now = now_unix();
    let tokens = [
        (
            "RS256 (2048-bit)",
            token(
                Algorithm::RS256,
                "test-key",
                &EncodingKey::from_rsa_pem(&read("rsa-private.pem")).expect("rsa"),
            ),
        ),
        (
            "ES256",
            token(
                Algorithm::ES256,
                "ec-key",
                &EncodingKey::from_ec_pem(&read("ec-p256-private.pem")).expect("ec"),
            ),
        ),
        (
            "EdDSA",
            token(
                Algorithm::EdDSA,
                "ed-key",
                &EncodingKey::from_ed_pem(&read("ed25519-private.pem")).expect("ed"),
            ),
        ),
    ];
    println!("token verification, {iterations} calls each (µs per call):");
    for (label, token) in &tokens {
        let micros = per_call_micros(iterations, || {
            black_box(verify_token(&config, black_box(token), now).expect("verifies"));
        });
        println!("  full verification {label:<17} {micros:>8.1} µs");
    }
    let verifier = OidcVerifier::new(config.clone(), None);
    for (label, token) in &tokens {
        verifier.verify(token, now, None).await.expect("verifies");
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(
                verifier
                    .verify(black_box(token), now, None)
                    .await
                    .expect("verifies"),
            );
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        println!("  verified before    {label:<17} {micros:>8.1} µs (cache hit)");
    }
}
