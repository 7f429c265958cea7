//! The queue's filters: read from the console's own address (`/?state=pending&group=IAM`), so
//! a filtered queue can be bookmarked, and turned into the API's list query.

use cavra_core::approval::ApprovalState;

/// Page sizes the queue offers (the API allows up to 500).
pub const PAGE_SIZES: [u32; 4] = [25, 50, 100, 500];
/// The page size when none is chosen.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// What the queue shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFilter {
    /// One state, or every state.
    pub state: Option<ApprovalState>,
    /// One approver group (exact, as the API filters), or every group.
    pub group: String,
    /// Page size.
    pub limit: u32,
}

impl Default for QueueFilter {
    fn default() -> Self {
        Self {
            state: None,
            group: String::new(),
            limit: DEFAULT_PAGE_SIZE,
        }
    }
}

impl QueueFilter {
    /// Reads `state`, `group` and `limit` from a query string (bare, after `?`, or a whole
    /// console path); unknown or malformed values fall back to the defaults.
    pub fn from_query(query: &str) -> Self {
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        let mut filter = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "state" => filter.state = value.parse().ok(),
                "group" => value.trim().clone_into(&mut filter.group),
                "limit" => {
                    filter.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=500).contains(n))
                        .unwrap_or(DEFAULT_PAGE_SIZE);
                }
                _ => {}
            }
        }
        filter
    }

    /// The console address showing this filter (`/`, `/?state=pending&group=IAM`).
    pub fn console_path(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(state) = self.state {
            query.append_pair("state", state.as_str());
        }
        if !self.group.is_empty() {
            query.append_pair("group", &self.group);
        }
        if self.limit != DEFAULT_PAGE_SIZE {
            query.append_pair("limit", &self.limit.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        }
    }

    /// The API path for one page: `/approvals?state=…&approver_group=…&limit=…&cursor=…`.
    pub fn api_path(&self, cursor: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(state) = self.state {
            query.append_pair("state", state.as_str());
        }
        if !self.group.is_empty() {
            query.append_pair("approver_group", &self.group);
        }
        query.append_pair("limit", &self.limit.to_string());
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        format!("/approvals?{}", query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_bare_address_then_every_state_and_group_show_in_pages_of_fifty() {
        let filter = QueueFilter::from_query("");
        assert_eq!(filter, QueueFilter::default());
        assert_eq!(filter.console_path(), "/");
        assert_eq!(filter.api_path(None), "/approvals?limit=50");
    }

    #[test]
    fn filters_round_trip_through_the_console_address_and_reach_the_api_encoded() {
        let filter = QueueFilter::from_query("?state=pending&group=Platform+Security&limit=500");
        assert_eq!(filter.state, Some(ApprovalState::Pending));
        assert_eq!(filter.group, "Platform Security");
        assert_eq!(filter.limit, 500);
        assert_eq!(QueueFilter::from_query(&filter.console_path()), filter);
        assert_eq!(
            filter.api_path(Some("eyJ0Ijox")),
            "/approvals?state=pending&approver_group=Platform+Security&limit=500&cursor=eyJ0Ijox"
        );
    }

    #[test]
    fn malformed_values_fall_back_to_the_defaults() {
        let filter = QueueFilter::from_query("state=cancelled&limit=9000&other=1");
        assert_eq!(filter, QueueFilter::default());
        assert_eq!(
            QueueFilter::from_query("limit=abc").limit,
            DEFAULT_PAGE_SIZE
        );
    }
}
