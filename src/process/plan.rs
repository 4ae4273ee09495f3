//! The rules of a pass as pure functions of plain values: what happens to a due contact.
//! Unit-tested here, no server. (Whether a lease may be claimed is `lease::verdict`.)

/// A step of `sequence_steps`, as read for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub id: String,
    pub message_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
}

/// A device of `user_devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub status: Option<String>,
}

/// One due contact with everything the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub contact_id: String,
    pub sequence_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub current_step: i64,
    /// The sequence's owner.
    pub user_id: String,
    /// NULL never completes a contact (`next > NULL` is not true in SQL either).
    pub total_days: Option<i64>,
    /// The step with `day_number = current_step + 1` (smallest id if several).
    pub step: Option<StepRow>,
    /// The device id of the contact's lead (smallest `leads.id` for phone and user), if any.
    pub lead_device_id: Option<String>,
    /// The `user_devices` row of that lead's device, if it exists.
    pub device: Option<DeviceRow>,
}

impl Candidate {
    pub fn next_step(&self) -> i64 {
        self.current_step + 1
    }
}

/// What the rules decide for a due contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Rule 1: past the last day.
    Complete,
    /// Rule 2: no step for the next day; unchanged.
    NoStep,
    /// Rule 3: no lead for the phone and the sequence's user; unchanged.
    NoLead,
    /// Rule 4: the lead's device is missing, another user's, or not connected/online; unchanged.
    DeviceOffline,
    /// Rule 5: queue the step on this device (or find it already queued), then advance.
    Queue { device_id: String },
}

/// Applies rules 1-4 of the contract in order (rule 5/6, queued vs already queued, depends on
/// what the messages table holds at insert time).
pub fn plan(c: &Candidate) -> Decision {
    if matches!(c.total_days, Some(total) if c.next_step() > total) {
        return Decision::Complete;
    }
    if c.step.is_none() {
        return Decision::NoStep;
    }
    let Some(device_id) = &c.lead_device_id else { return Decision::NoLead };
    match &c.device {
        Some(d)
            if d.id.eq_ignore_ascii_case(device_id)
                && d.user_id.eq_ignore_ascii_case(&c.user_id)
                && matches!(
                    d.status.as_deref().map(str::to_ascii_lowercase).as_deref(),
                    Some("connected" | "online")
                ) =>
        {
            Decision::Queue { device_id: device_id.clone() }
        }
        _ => Decision::DeviceOffline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due() -> Candidate {
        Candidate {
            contact_id: "c1".into(),
            sequence_id: "s1".into(),
            phone: "60123".into(),
            name: Some("Ann".into()),
            current_step: 1,
            user_id: "u1".into(),
            total_days: Some(3),
            step: Some(StepRow {
                id: "st2".into(),
                message_type: "text".into(),
                content: Some("hi".into()),
                media_url: None,
            }),
            lead_device_id: Some("d1".into()),
            device: Some(DeviceRow { id: "d1".into(), user_id: "u1".into(), status: Some("connected".into()) }),
        }
    }

    #[test]
    fn queues_on_a_connected_or_online_device() {
        assert_eq!(plan(&due()), Decision::Queue { device_id: "d1".into() });
        let mut c = due();
        c.device.as_mut().unwrap().status = Some("online".into());
        assert_eq!(plan(&c), Decision::Queue { device_id: "d1".into() });
        // The last day itself is still queued.
        c.current_step = 2;
        assert_eq!(plan(&c), Decision::Queue { device_id: "d1".into() });
    }

    #[test]
    fn completes_past_the_last_day_before_anything_else() {
        let mut c = due();
        c.current_step = 3;
        c.step = None;
        c.lead_device_id = None;
        assert_eq!(plan(&c), Decision::Complete);
        c.total_days = Some(0);
        c.current_step = 0;
        assert_eq!(plan(&c), Decision::Complete);
        // NULL total_days never completes.
        c.total_days = None;
        assert_eq!(plan(&c), Decision::NoStep);
    }

    #[test]
    fn no_step_comes_before_no_lead() {
        let mut c = due();
        c.step = None;
        c.lead_device_id = None;
        assert_eq!(plan(&c), Decision::NoStep);
    }

    #[test]
    fn no_lead_comes_before_the_device() {
        let mut c = due();
        c.lead_device_id = None;
        c.device = None;
        assert_eq!(plan(&c), Decision::NoLead);
    }

    #[test]
    fn device_must_exist_belong_to_the_user_and_be_connected() {
        let mut c = due();
        c.device = None;
        assert_eq!(plan(&c), Decision::DeviceOffline);
        let mut c = due();
        c.device.as_mut().unwrap().user_id = "u2".into();
        assert_eq!(plan(&c), Decision::DeviceOffline);
        for status in [Some("offline"), Some("disconnected"), None] {
            let mut c = due();
            c.device.as_mut().unwrap().status = status.map(String::from);
            assert_eq!(plan(&c), Decision::DeviceOffline, "{status:?}");
        }
    }
}
