//! What was issued before a restart is still true after it.

use crate::harness::Server;

#[test]
fn tokens_clients_keys_and_revocations_survive_a_restart() {
    let mut server = Server::start();
    let (id, secret) = server.client(&[]);
    let (oid, osecret) = server.client(&["--token-format", "opaque"]);
    let creds = (id.as_str(), secret.as_str());
    let jwt = server.token(creds, &[]);
    let opaque = server.token((&oid, &osecret), &[]);
    let revoked_jwt = server.token(creds, &[]);
    let revoked_opaque = server.token((&oid, &osecret), &[]);
    for (c, t) in [
        (creds, &revoked_jwt),
        ((oid.as_str(), osecret.as_str()), &revoked_opaque),
    ] {
        assert_eq!(
            server
                .post_form("/revoke", Some(c), &[("token", t)])
                .status(),
            200
        );
    }
    let jwks_before = server.get_json(&format!("{}/jwks", server.base));

    server.restart();

    assert!(server.is_active(&jwt), "JWT issued before the restart");
    assert!(
        server.is_active(&opaque),
        "opaque token issued before the restart"
    );
    assert!(
        !server.is_active(&revoked_jwt),
        "JWT revoked before the restart"
    );
    assert!(
        !server.is_active(&revoked_opaque),
        "opaque token revoked before the restart"
    );
    let jwks_after = server.get_json(&format!("{}/jwks", server.base));
    assert_eq!(jwks_before, jwks_after, "the same signing key");
    let fresh = server.token(creds, &[]);
    assert!(server.is_active(&fresh));
}
