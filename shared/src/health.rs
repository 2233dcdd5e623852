//! The failing clock of an endpoint (contract, "Auto-disable"): it starts at the first failed
//! attempt after the last success (or after the endpoint was created or re-enabled), any success
//! stops it, and when an event's schedule is spent while it has run longer than
//! `DISABLE_AFTER_SECONDS` the endpoint is disabled with `disabledReason: "failing"`.
//!
//! The rule is pure: the caller reads the clock with the endpoint (it is already read for the
//! attempt), and writes only when the clock changes, so a healthy endpoint's success costs no write.

/// What one attempt's outcome does to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChange {
    /// Nothing to write: a success with no clock running, or a failure while it already runs.
    Keep,
    /// The first failure after a success: the clock starts at `at_ms` (Unix ms).
    Start { at_ms: u64 },
    /// A success while the clock ran: it stops.
    Stop,
    /// The schedule is spent and the clock has run too long: disable the endpoint, provided the
    /// clock is still the one read (`since_ms`; `None` when none ran), so a success in between wins.
    Disable { since_ms: Option<u64> },
}

/// The change for an attempt that ended at `now_ms`, given the clock read before it
/// (`failing_since_ms`), whether it `succeeded`, when it was made (`attempted_at_ms`), whether it
/// spent the event's schedule (a failed scheduled attempt with no next one) and the window
/// (`disable_after_ms`). The clock must have run *longer* than the window (contract: "longer than").
pub fn clock_change(
    failing_since_ms: Option<u64>,
    succeeded: bool,
    attempted_at_ms: u64,
    now_ms: u64,
    schedule_spent: bool,
    disable_after_ms: u64,
) -> ClockChange {
    if succeeded {
        return if failing_since_ms.is_some() { ClockChange::Stop } else { ClockChange::Keep };
    }
    let since = failing_since_ms.unwrap_or(attempted_at_ms);
    if schedule_spent && now_ms.saturating_sub(since) > disable_after_ms {
        return ClockChange::Disable { since_ms: failing_since_ms };
    }
    match failing_since_ms {
        None => ClockChange::Start { at_ms: attempted_at_ms },
        Some(_) => ClockChange::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    #[test]
    fn a_healthy_endpoint_costs_nothing_and_a_success_stops_the_clock() {
        assert_eq!(clock_change(None, true, 10, 20, false, DAY), ClockChange::Keep);
        assert_eq!(clock_change(Some(5), true, 10, 20, false, DAY), ClockChange::Stop);
        // Even the last attempt of a schedule: a success is a success.
        assert_eq!(clock_change(Some(5), true, 10, 20 * DAY, true, DAY), ClockChange::Stop);
    }

    #[test]
    fn the_first_failure_starts_the_clock_and_later_ones_keep_it() {
        assert_eq!(clock_change(None, false, 10, 20, false, DAY), ClockChange::Start { at_ms: 10 });
        assert_eq!(clock_change(Some(5), false, 10, 20, false, DAY), ClockChange::Keep);
    }

    #[test]
    fn only_a_spent_schedule_after_a_long_enough_clock_disables() {
        // Spent, but the clock has run only one day of five.
        assert_eq!(clock_change(Some(0), false, DAY, DAY, true, 5 * DAY), ClockChange::Keep);
        // Run exactly the window: not yet longer than it.
        assert_eq!(clock_change(Some(0), false, 5 * DAY, 5 * DAY, true, 5 * DAY), ClockChange::Keep);
        assert_eq!(
            clock_change(Some(0), false, 5 * DAY, 5 * DAY + 1, true, 5 * DAY),
            ClockChange::Disable { since_ms: Some(0) }
        );
        // Long enough, but attempts are still scheduled.
        assert_eq!(clock_change(Some(0), false, 9 * DAY, 9 * DAY, false, 5 * DAY), ClockChange::Keep);
        // No clock ran (the schedule was spent by its first failure): the window counts from it.
        assert_eq!(clock_change(None, false, 100, 150, true, 10), ClockChange::Disable { since_ms: None });
        assert_eq!(clock_change(None, false, 100, 105, true, 10), ClockChange::Start { at_ms: 100 });
    }
}
