//! How a state reads: a label and an icon that say it without colour, and a CSS class that
//! adds the colour. Icons are inline SVG shapes ([`Glyph`]), so they render with any font.

use cavra_core::approval::ApprovalState;

/// The words for a state.
pub fn label(state: ApprovalState) -> &'static str {
    match state {
        ApprovalState::Pending => "Pending",
        ApprovalState::Approved => "Approved",
        ApprovalState::Denied => "Denied",
        ApprovalState::Expired => "Expired",
        ApprovalState::BreakGlass => "Break-glass",
        ApprovalState::Consumed => "Used",
    }
}

/// A small drawn icon (see `components::icon`): no font glyph, so it never renders as an
/// empty box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glyph {
    /// A clock face: waiting.
    Clock,
    /// A tick: approved, verified.
    Check,
    /// A cross: denied, failed.
    Cross,
    /// An hourglass: expired.
    Hourglass,
    /// A warning triangle: break-glass, attention.
    Warning,
    /// A filled dot: used up.
    Dot,
}

/// The icon shown before a state's label.
pub fn glyph(state: ApprovalState) -> Glyph {
    match state {
        ApprovalState::Pending => Glyph::Clock,
        ApprovalState::Approved => Glyph::Check,
        ApprovalState::Denied => Glyph::Cross,
        ApprovalState::Expired => Glyph::Hourglass,
        ApprovalState::BreakGlass => Glyph::Warning,
        ApprovalState::Consumed => Glyph::Dot,
    }
}

/// The CSS class carrying the state's colour.
pub fn css_class(state: ApprovalState) -> &'static str {
    match state {
        ApprovalState::Pending => "state state-pending",
        ApprovalState::Approved => "state state-approved",
        ApprovalState::Denied => "state state-denied",
        ApprovalState::Expired => "state state-expired",
        ApprovalState::BreakGlass => "state state-break-glass",
        ApprovalState::Consumed => "state state-consumed",
    }
}

/// A decision the console can make on a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `POST /approvals/{id}/approve`
    Approve,
    /// `POST /approvals/{id}/deny`
    Deny,
    /// `POST /approvals/{id}/expire`
    Expire,
}

impl Verdict {
    /// All three, in button order.
    pub const ALL: [Self; 3] = [Self::Approve, Self::Deny, Self::Expire];

    /// The last path segment of the route.
    pub fn path(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Expire => "expire",
        }
    }

    /// The button text.
    pub fn label(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Deny => "Deny",
            Self::Expire => "Expire",
        }
    }

    /// The state the request reaches when this verdict completes it.
    pub fn target(self) -> ApprovalState {
        match self {
            Self::Approve => ApprovalState::Approved,
            Self::Deny => ApprovalState::Denied,
            Self::Expire => ApprovalState::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_label_icon_and_class_so_colour_is_never_the_only_cue() {
        let states = ApprovalState::ALL;
        for (i, a) in states.iter().enumerate() {
            for b in &states[i + 1..] {
                assert_ne!(label(*a), label(*b));
                assert_ne!(glyph(*a), glyph(*b));
                assert_ne!(css_class(*a), css_class(*b));
            }
        }
        assert_eq!(label(ApprovalState::BreakGlass), "Break-glass");
    }

    #[test]
    fn verdicts_map_to_their_routes_and_target_states() {
        let paths: Vec<&str> = Verdict::ALL.iter().map(|v| v.path()).collect();
        assert_eq!(paths, ["approve", "deny", "expire"]);
        assert_eq!(Verdict::Deny.target(), ApprovalState::Denied);
    }
}
