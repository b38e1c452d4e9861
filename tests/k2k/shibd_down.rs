//! K2K while B's Shibboleth daemon is down: a clear "unavailable" error that
//! names it, then recovery once it is back. A test binary of its own: it
//! stops shibd, which would disturb the other K2K tests (cargo runs test
//! binaries one after the other).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::Command;

use mercador_core::k2k::MultiCloud;
use mercador_core::keystone::{ErrorKind, Scope};
use mercador_tests::Testbed;
use mercador_tests::federation::K2k;

fn testbed(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../testbed/testbed.sh");
    // The testbed the env file describes, wherever its state dir is.
    let state = Testbed::get().var("MERCADOR_TESTBED_STATE");
    let status = Command::new("bash").arg(script).args(args).env("MERCADOR_TESTBED_STATE", state).status().unwrap();
    assert!(status.success(), "testbed.sh {args:?} failed");
}

/// Starts shibd again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        testbed(&["shibd", "start"]);
    }
}

#[tokio::test]
async fn k2k_fails_clearly_while_shibd_is_down_and_recovers() {
    let fx = K2k::get().await;
    let scope = Scope::project(&fx.project_name, &fx.domain_name);
    {
        let _restart = Restart;
        testbed(&["shibd", "stop"]);
        let clouds = MultiCloud::new(fx.alice());
        let e = clouds.session(&fx.sp_id, scope.clone()).await.unwrap().token().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        let text = e.to_string();
        assert!(text.contains("refused the assertion") && text.contains("shibd"), "{text}");
        assert!(text.contains(&fx.sp_url), "names the SAML endpoint: {text}");
    }
    // shibd is back: the same kind of session works again.
    let clouds = MultiCloud::new(fx.alice());
    let token = clouds.session(&fx.sp_id, scope).await.unwrap().token().await.unwrap();
    assert_eq!(token.project.as_ref().unwrap().id, fx.project_id);
}
