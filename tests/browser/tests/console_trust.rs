//! Issue I §5: a console approvers trust at a glance — in headless Chromium against the real
//! `cavra serve` on a temporary SQLite file, requests made with the real CLI. The lead sentence
//! (who, what, where, blocked or needs approval, severity, the agent's rationale as text), the
//! dialog's new state after a decision, focus trapped and returned, Escape; break-glass started
//! from a blocked request, which it closes; an active override's remaining time; icons drawn
//! in SVG; no sideways scrolling at 1024 px or on a 390 px phone; the queue refreshing itself;
//! 401 and 403 in plain words. Screenshots at 1400, 1024 and 390 px (`{name}-{width}.png`).

use cavra_console_e2e::{
    Driver, ESCAPE, GROUP, SHIFT, Server, TAB, approver, attribute_is, decision, developer,
    element, incident_commander, press, row, screenshots_at_widths, script, serial,
    text_containing,
};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

const FOCUS_IN_DIALOG: &str = "const d = document.querySelector('[role=dialog],[role=alertdialog]'); return !!d && d.contains(document.activeElement);";

/// Presses Tab (or Shift+Tab) `n` times and checks after each that focus is still inside the
/// open dialog.
async fn focus_stays_in_dialog(browser: &Client, keys: &str, n: usize) -> anyhow::Result<()> {
    for i in 0..n {
        press(browser, keys).await?;
        assert_eq!(
            script(browser, FOCUS_IN_DIALOG).await?,
            Value::Bool(true),
            "focus left the dialog after {} key press(es)",
            i + 1
        );
    }
    Ok(())
}

async fn active_element_text(browser: &Client, expression: &str) -> anyhow::Result<Value> {
    script(
        browser,
        &format!("const a = document.activeElement; return a ? {expression} : null;"),
    )
    .await
}

/// Waits (focus returns after the page re-renders) until `expression` of the focused element
/// is `expected`.
async fn focus_becomes(browser: &Client, expression: &str, expected: Value) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = active_element_text(browser, expression).await?;
        if now == expected {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "focus is on {now}, not {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_dialog_leads_with_one_sentence_traps_focus_and_shows_the_new_state()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    // The agent's rationale is untrusted: markup in it must show as text.
    let hostile =
        "Rotate the signing key before the audit. <img src=x onerror=\"document.title='pwned'\">";
    let id = server.create_decision_from_cli(
        &decision("dec_lead000001"),
        GROUP,
        &["--rationale", hostile],
    );
    let mut driver = Driver::start().await?;
    let browser = driver
        .signed_in(&server, &approver("alice@example.com"))
        .await?;
    browser.goto(&server.base).await?;
    let approve = format!("{} button.verdict-approve", row(&id));
    element(&browser, &approve).await?.click().await?;

    // THEN the dialog leads with who wants to do what, where, and what the policy said
    let sentence = text_containing(&browser, "#lead-sentence", "wants to").await?;
    assert_eq!(
        sentence,
        "developer@example.com wants to write security/admin-policy.rego in session e2e."
    );
    attribute_is(&browser, "#lead-verdict", "data-verdict", "needs-approval").await?;
    text_containing(&browser, "#lead-verdict", "Needs approval").await?;
    text_containing(&browser, "#lead-severity", "high severity").await?;
    text_containing(
        &browser,
        "#request-lead",
        "filesystem.write.require_approval",
    )
    .await?;
    let rationale = element(&browser, "#lead-rationale").await?.text().await?;
    assert_eq!(
        rationale, hostile,
        "the rationale is shown verbatim, as text"
    );
    assert!(
        browser
            .find_all(Locator::Css("#lead-rationale img"))
            .await?
            .is_empty(),
        "the rationale's markup was rendered"
    );
    assert_ne!(browser.title().await?, "pwned");
    // The state badge's icon is drawn (SVG with a name), not a font glyph.
    attribute_is(&browser, "#dialog-state svg.icon", "aria-label", "Pending").await?;

    // AND focus is in the dialog and stays there, both ways round
    assert_eq!(
        active_element_text(&browser, "a.id").await?,
        json!("decision-reason")
    );
    focus_stays_in_dialog(&browser, TAB, 8).await?;
    focus_stays_in_dialog(&browser, &format!("{SHIFT}{TAB}"), 8).await?;

    // WHEN Escape is pressed THEN the dialog closes and focus is back on its opener
    press(&browser, ESCAPE).await?;
    let closed = script(
        &browser,
        "return document.querySelector('[role=dialog]') === null;",
    )
    .await?;
    assert_eq!(closed, Value::Bool(true), "Escape closes the dialog");
    focus_becomes(
        &browser,
        "a.getAttribute('aria-label')",
        json!(format!("Approve {id}")),
    )
    .await?;

    // WHEN the approver approves THEN the dialog shows the new state, not "Pending"
    element(&browser, &approve).await?.click().await?;
    element(&browser, "#decision-reason")
        .await?
        .send_keys("Key rotation reviewed")
        .await?;
    screenshots_at_widths(&browser, "decision-dialog").await?;
    element(&browser, "#decision-submit").await?.click().await?;
    text_containing(&browser, "#decision-outcome", "is now approved").await?;
    attribute_is(&browser, "#dialog-state", "data-state", "approved").await?;
    let state = element(&browser, "#dialog-state").await?.text().await?;
    assert_eq!(state.trim(), "Approved");
    // Focus moved to Close (the form is gone) and is still trapped.
    assert_eq!(
        active_element_text(&browser, "a.id").await?,
        json!("decision-close")
    );
    focus_stays_in_dialog(&browser, TAB, 3).await?;
    element(&browser, "#decision-close").await?.click().await?;
    attribute_is(&browser, &row(&id), "data-state", "approved").await?;
    // The Approve button is gone with the decision: focus lands on the row's link instead.
    focus_becomes(
        &browser,
        "(a.closest('tr') ? a.closest('tr').getAttribute('data-approval-id') : a.tagName)",
        json!(id),
    )
    .await?;
    assert_eq!(
        server.record(&id, &developer()).await["rationale"],
        "Rotate the signing key before the audit. <img src=x onerror=\"document.title='pwned'\">"
    );
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_blocked_request_is_overridden_from_its_detail_page_which_closes_and_links_it()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let blocked = json!({
        "decision_id": "dec_blocked0001", "session_id": "e2e", "action_type": "execute_command",
        "target": "terraform apply -auto-approve", "rule_id": "commands.block",
        "decision": "block", "severity": "critical", "repository": "payments/infra",
        "reason": "Blocked command: terraform apply -auto-approve",
        "evidence_refs": ["evidence://e2e/dec_blocked0001"],
    });
    let id = server.create_decision_from_cli(
        &blocked,
        GROUP,
        &[
            "--rationale",
            "The state lock is stuck; production deploys are down.",
        ],
    );
    let mut driver = Driver::start().await?;
    let browser = driver.signed_in(&server, &incident_commander()).await?;

    // GIVEN the blocked request's detail page: it leads with the sentence and "blocked"
    browser
        .goto(&format!("{}/approvals/{id}", server.base))
        .await?;
    let sentence = text_containing(&browser, "#lead-sentence", "wants to").await?;
    assert_eq!(
        sentence,
        "developer@example.com wants to run terraform apply -auto-approve in payments/infra."
    );
    attribute_is(&browser, "#lead-verdict", "data-verdict", "blocked").await?;
    text_containing(&browser, "#lead-verdict", "Blocked by policy").await?;
    text_containing(&browser, "#lead-severity", "critical severity").await?;
    text_containing(&browser, "#lead-rationale", "state lock is stuck").await?;
    screenshots_at_widths(&browser, "detail-blocked").await?;

    // WHEN the commander starts break-glass from it THEN rule and target are the request's
    element(&browser, "a.detail-break-glass")
        .await?
        .click()
        .await?;
    text_containing(&browser, "#bg-source", &id).await?;
    let target = element(&browser, "#bg-target").await?;
    let mut value = target.prop("value").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while value.as_deref() != Some("terraform apply -auto-approve")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        value = target.prop("value").await?;
    }
    assert_eq!(value.as_deref(), Some("terraform apply -auto-approve"));
    assert!(target.attr("readonly").await?.is_some(), "target is fixed");
    let rule = element(&browser, "#bg-rule").await?;
    assert_eq!(rule.prop("value").await?.as_deref(), Some("commands.block"));
    assert!(rule.attr("readonly").await?.is_some(), "rule is fixed");
    element(&browser, "#bg-reason")
        .await?
        .send_keys("Production deploys are down; lock cleared by hand")
        .await?;
    element(&browser, "#bg-ref")
        .await?
        .send_keys("INC-901")
        .await?;
    screenshots_at_widths(&browser, "break-glass-from-blocked").await?;
    element(&browser, "#bg-review").await?.click().await?;
    text_containing(
        &browser,
        "[role=alertdialog]",
        &format!("It closes blocked request {id}"),
    )
    .await?;
    // The confirmation traps focus too, and Escape goes back to the form.
    assert_eq!(
        active_element_text(&browser, "a.id").await?,
        json!("bg-confirm")
    );
    focus_stays_in_dialog(&browser, TAB, 4).await?;
    press(&browser, ESCAPE).await?;
    assert_eq!(
        script(
            &browser,
            "return document.querySelector('[role=alertdialog]') === null;"
        )
        .await?,
        Value::Bool(true)
    );
    focus_becomes(&browser, "a.id", json!("bg-review")).await?;
    element(&browser, "#bg-review").await?.click().await?;
    element(&browser, "#bg-confirm").await?.click().await?;
    let created = text_containing(&browser, "#bg-created", "It closed blocked request").await?;
    assert!(created.contains(&id), "{created}");
    let override_id = created
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .map(|w| w.trim_end_matches(['.', ',']).to_owned())
        .expect("the message names the override");

    // THEN the server linked both and closed the blocked request
    let closed = server.record(&id, &incident_commander()).await;
    assert_eq!(closed["state"], "expired");
    assert_eq!(closed["overridden_by"], override_id.as_str());
    let last = closed["history"].as_array().and_then(|h| h.last()).cloned();
    assert_eq!(
        last.as_ref().map(|e| &e["event"]),
        Some(&json!("overridden"))
    );
    let stored = server.record(&override_id, &incident_commander()).await;
    assert_eq!(stored["state"], "break_glass");
    assert_eq!(stored["overrides"], id.as_str());
    assert_eq!(stored["decision"]["rule_id"], "commands.block");
    assert_eq!(stored["requested_by"], "cab@example.com");

    // AND the queue shows the active override's remaining time, not "decided"
    browser.goto(&server.base).await?;
    let left = text_containing(
        &browser,
        &format!("{} td.time-left", row(&override_id)),
        "left",
    )
    .await?;
    assert!(
        left.starts_with("3 h 59 min") || left.starts_with("4 h"),
        "{left}"
    );
    attribute_is(&browser, &row(&id), "data-state", "expired").await?;

    // AND the blocked request's page names the override that closed it
    browser
        .goto(&format!("{}/approvals/{id}", server.base))
        .await?;
    text_containing(&browser, "#detail-overridden-by", &override_id).await?;
    assert!(
        browser
            .find_all(Locator::Css("a.detail-break-glass"))
            .await?
            .is_empty(),
        "a closed request offers no break-glass"
    );
    // AND the form opened for it again says it can no longer be overridden
    browser
        .goto(&format!("{}/break-glass?from={id}", server.base))
        .await?;
    text_containing(&browser, "#bg-source-closed", "This request is expired").await?;
    browser
        .goto(&format!("{}/approvals/{override_id}", server.base))
        .await?;
    text_containing(&browser, "#detail-overrides", &id).await?;
    let sentence = text_containing(&browser, "#lead-sentence", "break-glass").await?;
    assert_eq!(
        sentence,
        "cab@example.com declared break-glass to run terraform apply -auto-approve in payments/infra."
    );
    text_containing(&browser, "#lead-rationale", "state lock is stuck").await?;
    screenshots_at_widths(&browser, "detail-override").await?;
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_queue_refreshes_itself_shows_what_is_new_and_waits_while_a_dialog_is_open()
-> anyhow::Result<()> {
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let first = server.create_from_cli("dec_poll000001", "security/first-policy.rego", GROUP);
    let mut driver = Driver::start().await?;
    let browser = driver
        .signed_in(&server, &approver("alice@example.com"))
        .await?;
    browser.goto(&server.base).await?;
    attribute_is(&browser, &row(&first), "data-state", "pending").await?;
    // A marker that a page load would wipe.
    script(&browser, "window.cavraNoReload = 42; return null;").await?;

    // WHEN a request is created with the CLI while the page is open
    let second = server.create_from_cli("dec_poll000002", "security/second-policy.rego", GROUP);
    // THEN it appears without a reload, highlighted, and a polite note says so
    attribute_is(&browser, &row(&second), "data-new", "true").await?;
    text_containing(&browser, "#queue-changes", "1 new request").await?;
    attribute_is(&browser, "#queue-changes", "aria-live", "polite").await?;
    assert_eq!(
        script(&browser, "return window.cavraNoReload;").await?,
        json!(42),
        "the page was reloaded"
    );
    // A state change made elsewhere shows too.
    server.cavra(&[
        "approval",
        "deny",
        &first,
        "--actor",
        "platform-security",
        "--reason",
        "Superseded",
    ])?;
    attribute_is(&browser, &row(&first), "data-state", "denied").await?;
    text_containing(&browser, "#queue-changes", "1 request changed state").await?;
    // Every state reads with a drawn icon: no font glyph a default font may lack.
    let glyphs = script(
        &browser,
        "return ['◷','✓','✕','⌛','⚠','●'].filter(g => document.body.innerText.includes(g));",
    )
    .await?;
    assert_eq!(glyphs, json!([]), "symbols that need a font that has them");
    let icons = browser
        .find_all(Locator::Css(
            "table.queue .state svg.icon[role=img][aria-label]",
        ))
        .await?;
    assert_eq!(icons.len(), 2, "one named SVG icon per row's state");
    screenshots_at_widths(&browser, "queue").await?;

    // WHEN a dialog is open THEN the queue does not refresh under it
    element(&browser, &format!("{} button.verdict-deny", row(&second)))
        .await?
        .click()
        .await?;
    element(&browser, "#decision-reason").await?;
    let third = server.create_from_cli("dec_poll000003", "security/third-policy.rego", GROUP);
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    assert!(
        browser
            .find_all(Locator::Css(&row(&third)))
            .await?
            .is_empty(),
        "the queue refreshed while the dialog was open"
    );
    // AND once it closes, the refresh resumes
    press(&browser, ESCAPE).await?;
    attribute_is(&browser, &row(&third), "data-new", "true").await?;
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn without_a_session_the_console_says_plainly_that_a_sign_in_is_needed() -> anyhow::Result<()>
{
    let _one_at_a_time = serial().await;
    let server = Server::start();
    let mut driver = Driver::start().await?;
    let browser = driver.browser().await?;
    browser.goto(&server.base).await?;
    let alert = text_containing(
        &browser,
        "[role=alert][data-status='401']",
        "Sign in to continue: your session is missing or has expired",
    )
    .await?;
    assert!(alert.contains("paste a fresh one below"), "{alert}");
    element(&browser, "[role=alert] #token-input").await?;
    browser.close().await?;
    Ok(())
}
