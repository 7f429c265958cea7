//! The approvers' console in headless Chromium against the real `cavra serve` on a temporary
//! SQLite file, with tokens signed by the test key. Screenshots of the queue, the decision
//! dialog, the break-glass form and the audit view land in `target/screenshots/`
//! (`docs/screenshots/` with `CAVRA_UPDATE_SCREENSHOTS=1`).

use cavra_console_e2e::{
    Driver, GROUP, Server, approver, attribute_is, developer, element, incident_commander, row,
    screenshot, serial, start_decision, text_containing, token,
};
use fantoccini::Locator;

#[tokio::test]
async fn a_request_created_from_the_cli_is_approved_with_a_reason_in_the_queue_and_the_detail_view()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    // GIVEN requests created from the CLI, one of them decided already. Routing is
    // authoritative (issue E §2): `security/` routes to GROUP and `iam/` to IAM, so the
    // CLI's single unverified deny is allowed (no required group is added).
    let id = server.create_from_cli("dec_queue00001", "security/admin-policy.rego", GROUP);
    let other = server.create_from_cli("dec_queue00002", "security/billing-policy.rego", GROUP);
    server.create_from_cli("dec_queue00003", "iam/scanner-role.tf", "IAM");
    server.cavra(&[
        "approval",
        "deny",
        &other,
        "--actor",
        "platform-security",
        "--reason",
        "Broader than the ticket allows",
    ])?;
    let mut driver = Driver::start().await?;
    let browser = driver
        .signed_in(&server, &approver("alice@example.com"))
        .await?;

    // WHEN the approver opens the queue THEN the CLI's request is there, pending
    browser.goto(&server.base).await?;
    attribute_is(&browser, &row(&id), "data-state", "pending").await?;
    let text = element(&browser, &row(&id)).await?.text().await?;
    for expected in [
        "Pending",
        GROUP,
        "developer@example.com",
        "security/admin-policy.rego",
        "high",
        "in 23 h",
    ] {
        assert!(text.contains(expected), "row lacks {expected:?}: {text}");
    }
    attribute_is(&browser, &row(&other), "data-state", "denied").await?;
    screenshot(&browser, "queue").await?;

    // WHEN they press Approve and send without a reason THEN nothing is sent
    element(&browser, &format!("{} button.verdict-approve", row(&id)))
        .await?
        .click()
        .await?;
    element(&browser, "#decision-submit").await?.click().await?;
    text_containing(&browser, "#decision-reason-error", "reason is required").await?;
    assert_eq!(server.record(&id, &developer()).await["state"], "pending");

    // WHEN they give a reason and a reference THEN the server approves it and says so
    let dialog = text_containing(
        &browser,
        "[role=dialog]",
        "filesystem.write.require_approval",
    )
    .await?;
    assert!(dialog.contains("0 of 1 approval"), "{dialog}");
    element(&browser, "#decision-reason")
        .await?
        .send_keys("Scoped IAM change reviewed")
        .await?;
    element(&browser, "#decision-ref")
        .await?
        .send_keys("CHG-123")
        .await?;
    screenshot(&browser, "decision-dialog").await?;
    element(&browser, "#decision-submit").await?.click().await?;
    text_containing(&browser, "#decision-outcome", "is now approved").await?;
    element(&browser, "#decision-close").await?.click().await?;
    attribute_is(&browser, &row(&id), "data-state", "approved").await?;

    // AND the detail view shows it approved by the token's actor
    element(&browser, &format!("{} a[href='/approvals/{id}']", row(&id)))
        .await?
        .click()
        .await?;
    text_containing(&browser, "#detail-state", "Approved").await?;
    text_containing(&browser, "main", "alice@example.com").await?;
    text_containing(&browser, "main", "CHG-123").await?;
    let stored = server.record(&id, &developer()).await;
    assert_eq!(stored["state"], "approved");
    assert_eq!(stored["decided_by"], "alice@example.com");
    assert_eq!(stored["external_ref"], "CHG-123");
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_token_without_the_group_gets_the_403_message_and_the_request_stays_pending()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let id = server.create_from_cli("dec_forbid0001", "iam/admin-role.tf", GROUP);
    let mut driver = Driver::start().await?;
    let browser = driver
        .signed_in(&server, &token("mallory@example.com", &["Developers"]))
        .await?;
    start_decision(&browser, &server, &id, "approve", "Looks fine to me").await?;
    element(&browser, "#decision-submit").await?.click().await?;
    let alert = text_containing(&browser, "[role=dialog] [role=alert]", "HTTP 403").await?;
    assert!(
        alert.contains("actor is not authorized for approval group"),
        "{alert}"
    );
    // The 403 names the groups whose members can decide (routing: `iam/` goes to IAM; the
    // CLI's group is added as a required group).
    assert!(
        alert.contains("Only members of IAM or Platform Security can decide this request."),
        "{alert}"
    );
    // Nothing changed locally: the dialog can be dismissed and the row is still pending.
    browser
        .find(Locator::Css("[role=dialog] button.secondary"))
        .await?
        .click()
        .await?;
    attribute_is(&browser, &row(&id), "data-state", "pending").await?;
    assert_eq!(server.record(&id, &developer()).await["state"], "pending");
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn two_browsers_deciding_the_same_request_one_wins_and_the_other_is_told()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let id = server.create_from_cli("dec_race000001", "iam/admin-role.tf", GROUP);
    let mut driver = Driver::start().await?;
    let first = driver
        .signed_in(&server, &approver("alice@example.com"))
        .await?;
    let second = driver
        .signed_in(&server, &approver("bob@example.com"))
        .await?;
    start_decision(&first, &server, &id, "approve", "Decided in my browser").await?;
    start_decision(&second, &server, &id, "deny", "Decided in my browser").await?;
    element(&first, "#decision-submit").await?.click().await?;
    text_containing(&first, "#decision-outcome", "is now approved").await?;
    element(&second, "#decision-submit").await?.click().await?;
    let told = text_containing(&second, "#decision-conflict", "Someone else decided first").await?;
    assert!(
        told.contains("only pending approvals can be changed"),
        "{told}"
    );
    assert!(
        told.contains("now approved (by alice@example.com"),
        "{told}"
    );
    element(&second, "#decision-close").await?.click().await?;
    attribute_is(&second, &row(&id), "data-state", "approved").await?;
    let stored = server.record(&id, &developer()).await;
    assert_eq!(stored["state"], "approved");
    assert_eq!(stored["decided_by"], "alice@example.com");
    first.close().await?;
    second.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_break_glass_form_refuses_a_missing_reason_then_creates_a_break_glass_record()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let mut driver = Driver::start().await?;
    let browser = driver.signed_in(&server, &incident_commander()).await?;
    browser
        .goto(&format!("{}/break-glass", server.base))
        .await?;
    text_containing(&browser, "#bg-actor", "cab@example.com").await?;
    element(&browser, "#bg-target")
        .await?
        .send_keys("terraform apply -auto-approve")
        .await?;
    element(&browser, "#bg-ref")
        .await?
        .send_keys("INC-777")
        .await?;

    // WHEN the reason is missing THEN the form says so and sends nothing
    element(&browser, "#bg-review").await?.click().await?;
    text_containing(&browser, "#bg-reason-error", "reason is required").await?;
    text_containing(&browser, "#bg-invalid", "Nothing was sent").await?;
    let none = server
        .list("state=break_glass", &incident_commander())
        .await;
    assert_eq!(none["total"], 0, "{none}");

    // WHEN it is given THEN a confirmation states the broadcast, and confirming creates it
    element(&browser, "#bg-reason")
        .await?
        .send_keys("Production recovery after a failed deploy")
        .await?;
    element(&browser, "#bg-review").await?.click().await?;
    let confirm = text_containing(&browser, "[role=alertdialog]", "broadcasts it").await?;
    assert!(
        confirm.contains("terraform apply -auto-approve"),
        "{confirm}"
    );
    screenshot(&browser, "break-glass").await?;
    element(&browser, "#bg-confirm").await?.click().await?;
    let created = text_containing(
        &browser,
        "#bg-created",
        "Break-glass approval created: apr_",
    )
    .await?;
    let id = created
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .expect("the message names the id")
        .to_owned();
    let stored = server.record(&id, &incident_commander()).await;
    assert_eq!(stored["state"], "break_glass");
    assert_eq!(stored["break_glass"], true);
    assert_eq!(stored["requested_by"], "cab@example.com");
    assert_eq!(stored["external_ref"], "INC-777");
    assert_eq!(
        stored["break_glass_reason"],
        "Production recovery after a failed deploy"
    );
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_audit_view_lists_every_history_entry_with_its_evidence_and_verifies_the_chain()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let id = server.create_from_cli("dec_audit00001", "iam/admin-role.tf", GROUP);
    // A delivery to a webhook nobody listens on: a `delivered` entry with failure evidence.
    let providers = server.write_file(
        "providers.json",
        r#"{"approval_providers": {"webhook": {"enabled": true, "url": "http://127.0.0.1:9/hook"}}}"#,
    );
    let deliveries = server.write_file("deliveries", "");
    std::fs::remove_file(&deliveries)?;
    let failed = server.cavra(&[
        "approval",
        "deliver",
        &id,
        "--config",
        providers.to_str().unwrap_or_default(),
        "--retries",
        "0",
        "--timeout-seconds",
        "2",
        "--output",
        deliveries.to_str().unwrap_or_default(),
    ]);
    assert!(failed.is_err(), "a delivery to a closed port exits 3");
    let mut driver = Driver::start().await?;
    let browser = driver
        .signed_in(&server, &approver("alice@example.com"))
        .await?;
    browser
        .goto(&format!("{}/approvals/{id}", server.base))
        .await?;
    element(&browser, ".buttons button.verdict-approve")
        .await?
        .click()
        .await?;
    element(&browser, "#decision-reason")
        .await?
        .send_keys("Reviewed with the IAM owners")
        .await?;
    element(&browser, "#decision-ref")
        .await?
        .send_keys("CHG-42")
        .await?;
    element(&browser, "#decision-submit").await?.click().await?;
    text_containing(&browser, "#decision-outcome", "is now approved").await?;
    element(&browser, "#decision-close").await?.click().await?;

    let stored = server.record(&id, &developer()).await;
    let history = stored["history"].as_array().expect("history");
    let events: Vec<&str> = history.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(events, ["requested", "delivered", "approved"]);
    attribute_is(&browser, "#chain-result", "data-valid", "true").await?;
    let rows = browser.find_all(Locator::Css("tr.history-entry")).await?;
    assert_eq!(rows.len(), history.len());
    for (row, entry) in rows.iter().zip(history) {
        assert_eq!(
            row.attr("data-event").await?.as_deref(),
            entry["event"].as_str()
        );
        let text = row.text().await?;
        assert!(
            text.contains(entry["actor"].as_str().unwrap_or_default()),
            "{text}"
        );
    }
    let approved = rows[2].text().await?;
    for expected in [
        "alice@example.com",
        "OIDC (https://login.example, sub-alice@example.com)",
        "Reviewed with the IAM owners",
        "CHG-42",
    ] {
        assert!(
            approved.contains(expected),
            "approved entry lacks {expected:?}: {approved}"
        );
    }
    let delivered = rows[1].text().await?;
    assert!(
        delivered.contains("webhook: failed after 1 attempt"),
        "{delivered}"
    );
    text_containing(&browser, "#digest-check", "matches the embedded decision").await?;
    attribute_is(&browser, "#digest-check svg.icon", "aria-label", "verified").await?;
    text_containing(&browser, "main", &format!("approval://{id}")).await?;
    text_containing(&browser, "main", "evidence://e2e/dec_audit00001").await?;
    // The whole story on one page: a taller window for the picture.
    browser.set_window_size(1366, 1900).await?;
    browser.execute("window.scrollTo(0, 0)", vec![]).await?;
    screenshot(&browser, "audit").await?;
    browser.close().await?;
    Ok(())
}
