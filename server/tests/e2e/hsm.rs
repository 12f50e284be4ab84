//! The server signing through a real SoftHSM2 token, made fresh for each test by
//! `softhsm/init-token`. Without SoftHSM2 these tests fail; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Server, jwt_parts};

/// A fresh token in `dir`; the `GATEHOUSE_*`/`SOFTHSM2_CONF` settings the script prints.
fn softhsm_env(dir: &Path) -> Vec<(String, String)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../softhsm/init-token");
    let out = Command::new(script)
        .arg(dir)
        .output()
        .expect("run softhsm/init-token");
    assert!(
        out.status.success(),
        "softhsm/init-token failed (is SoftHSM2 installed? ./scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn hsm_server(dir: &Path, extra: &[(&str, &str)]) -> Server {
    let env = softhsm_env(dir);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start_with(&all)
}

#[test]
fn tokens_are_signed_in_the_hsm_and_survive_a_restart() {
    let hsm = tempfile::tempdir().unwrap();
    let mut server = hsm_server(hsm.path(), &[("GATEHOUSE_SIGNING__ALGORITHM", "PS256")]);
    let keys = server.cli_json(&["keys", "list"]);
    assert_eq!(keys[0]["backend"], "pkcs11");
    assert_eq!(keys[0]["alg"], "PS256");
    let status = server.admin_json("/admin/status");
    assert_eq!(status["signing_backend"], "pkcs11");
    assert_eq!(status["ready"], true);

    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    let (header, _) = jwt_parts(&token);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["kid"], keys[0]["kid"]);
    assert!(server.is_active(&token));

    server.restart();
    assert!(server.is_active(&token), "issued before the restart");
    let after = server.token((&id, &secret), &[]);
    assert_eq!(
        jwt_parts(&after).0["kid"],
        keys[0]["kid"],
        "the same HSM key, found again by id"
    );
}

#[test]
fn rotation_under_load_drops_no_request_and_no_live_key() {
    let hsm = tempfile::tempdir().unwrap();
    let server = hsm_server(hsm.path(), &[]);
    let (id, secret) = server.client(&[]);
    let stop = AtomicBool::new(false);
    let (issued, failures) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let tokens = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let r = server.post_form(
                        "/token",
                        Some((&id, &secret)),
                        &[("grant_type", "client_credentials")],
                    );
                    if r.status() != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let token = r.json::<Value>().unwrap()["access_token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    issued.fetch_add(1, Ordering::Relaxed);
                    if !server.is_active(&token) {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    // Every key that signed a live token is in the JWKS.
                    let kid = jwt_parts(&token).0["kid"].as_str().unwrap().to_owned();
                    if !server.jwks_kids().contains(&kid) {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    tokens.lock().unwrap().push(token);
                }
            });
        }
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(300));
            server.cli_json(&["keys", "rotate"]);
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed requests during rotations"
    );
    assert!(issued.load(Ordering::Relaxed) > 20, "the load ran");
    let tokens = tokens.into_inner().unwrap();
    let kids: std::collections::BTreeSet<String> = tokens
        .iter()
        .map(|t| jwt_parts(t).0["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids.len(), 5, "tokens were signed by all five keys");
    for token in &tokens {
        assert!(
            server.is_active(token),
            "every token issued before a rotation is still active"
        );
    }
    let published = server.jwks_kids();
    for kid in &kids {
        assert!(
            published.contains(kid),
            "{kid} signed live tokens and must stay published"
        );
    }
}

#[test]
fn an_unreachable_hsm_fails_issuance_clearly_keeps_validation_and_recovers() {
    let hsm = tempfile::tempdir().unwrap();
    let server = hsm_server(hsm.path(), &[]);
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);

    let tokens = hsm.path().join("tokens");
    let gone = hsm.path().join("tokens.gone");
    std::fs::rename(&tokens, &gone).unwrap();
    let r = server.post_form(
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        r.json::<Value>().unwrap()["error"],
        "temporarily_unavailable"
    );
    // Readiness is probed on a schedule; the public answer says only "unavailable", the
    // reason is for the operator (issue 8, item 8).
    server.wait_ready_status(503);
    let ready = server
        .http
        .get(format!("{}/ready", server.root()))
        .send()
        .unwrap();
    assert_eq!(
        ready.json::<Value>().unwrap(),
        serde_json::json!({"status": "unavailable"})
    );
    let reason = server.admin_json("/admin/status")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("pkcs11"), "{reason}");
    assert!(server.is_active(&token), "validation does not need the HSM");

    std::fs::rename(&gone, &tokens).unwrap();
    // The module is re-initialised at most once a second: issuance resumes within a few.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        let r = server.post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        );
        if r.status() == 200 {
            break r.json::<Value>().unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "issuance never resumed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(server.is_active(&fresh));
    server.wait_ready_status(200);
    assert!(
        !server.stderr().contains("software"),
        "never falls back to a software key"
    );
}

#[test]
fn a_key_provisioned_by_the_security_team_is_used_by_label_or_id() {
    let hsm = tempfile::tempdir().unwrap();
    let env = softhsm_env(hsm.path());
    let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let pin = std::fs::read_to_string(get("GATEHOUSE_SIGNING__PKCS11__PIN_FILE")).unwrap();
    // Provisioned with OpenSC's pkcs11-tool, as a security team would.
    let out = Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", get("SOFTHSM2_CONF"))
        .args([
            "--module",
            &get("GATEHOUSE_SIGNING__PKCS11__MODULE"),
            "--token-label",
            "gatehouse",
        ])
        .args([
            "--login",
            "--pin",
            pin.trim(),
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
        ])
        .args([
            "--label",
            "prod-signing-2026",
            "--id",
            "0a0b0c",
            "--sensitive",
        ])
        .output()
        .expect("pkcs11-tool (Debian package opensc) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("GATEHOUSE_SIGNING__PKCS11__KEY_LABEL", "prod-signing-2026"));
    let server = Server::start_with(&all);
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    assert!(server.is_active(&token));
    assert_eq!(
        server.jwks_kids(),
        [jwt_parts(&token).0["kid"].as_str().unwrap()]
    );
    let out = server.cli(&["keys", "rotate"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("provisioned"),
        "rotation is the HSM's business"
    );
}

#[test]
fn moving_a_software_data_dir_to_the_hsm_keeps_issued_tokens_valid() {
    let mut server = Server::start();
    let (id, secret) = server.client(&[]);
    let before = server.token((&id, &secret), &[]);
    let software_kid = jwt_parts(&before).0["kid"].as_str().unwrap().to_owned();

    let hsm = tempfile::tempdir().unwrap();
    server.stop();
    server.set_env(&softhsm_env(hsm.path()));
    server.restart();

    let after = server.token((&id, &secret), &[]);
    let hsm_kid = jwt_parts(&after).0["kid"].as_str().unwrap().to_owned();
    assert_ne!(hsm_kid, software_kid);
    assert!(
        server.is_active(&before),
        "a token signed by the software key"
    );
    assert!(server.is_active(&after));
    let keys = server.cli_json(&["keys", "list"]);
    assert_eq!(
        (keys[0]["backend"].as_str(), keys[0]["state"].as_str()),
        (Some("pkcs11"), Some("active"))
    );
    assert_eq!(
        (keys[1]["backend"].as_str(), keys[1]["state"].as_str()),
        (Some("software"), Some("retired"))
    );
    assert_eq!(server.jwks_kids(), [hsm_kid, software_kid]);
}

/// Issue 8, item 8: `/ready` is unauthenticated, so it must not spend HSM sessions: with one
/// session and no queue, a flood of `/ready` leaves every token request served, and `/ready`
/// says nothing about the HSM.
#[test]
fn a_flood_of_ready_spends_no_hsm_session() {
    let hsm = tempfile::tempdir().unwrap();
    let server = hsm_server(
        hsm.path(),
        &[
            ("GATEHOUSE_SIGNING__PKCS11__SESSIONS", "1"),
            ("GATEHOUSE_SIGNING__PKCS11__MAX_WAITING", "0"),
        ],
    );
    let (id, secret) = server.client(&[]);
    let stop = AtomicBool::new(false);
    let (probes, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let r = server
                        .http
                        .get(format!("{}/ready", server.root()))
                        .send()
                        .unwrap();
                    assert_eq!(r.text().unwrap(), r#"{"status":"ready"}"#);
                    probes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for _ in 0..100 {
            let r = server.post_form(
                "/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            );
            if r.status() != 200 {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(probes.load(Ordering::Relaxed) > 100, "the flood ran");
    assert_eq!(refused.load(Ordering::Relaxed), 0, "token requests refused");
}
