/// How long an idle loop polls for events before it sleeps in `epoll_wait`: the rule of Linux's `haltpoll`
/// cpuidle governor, applied to one event loop.
///
/// Sleeping and being woken costs a thread tens of microseconds on a virtual machine (the idle vCPU halts,
/// and the wake-up is an interrupt between vCPUs); an answer from a backend on the same network often comes
/// sooner than that. So when the loop's recent idle spells were short, it polls for a while first, and an
/// event that comes meanwhile is handled without the sleep. The window adapts to what it sees:
/// - an idle spell longer than the window but within `maximum` (polling this long would have caught it):
///   the window doubles, starting at `growStart`, up to `maximum`;
/// - an idle spell longer than `maximum` (polling would not have helped): the window halves, so a loop that
///   waits for slow streams or sits idle soon stops polling;
/// - a spell the window caught: unchanged.
///
/// A value of the loop thread: pure arithmetic on the durations the loop reports, tested without a clock.
struct PollWindow: Sendable, Equatable {
  /// The most a loop with `idle_poll` polls: `haltpoll`'s default (`guest_halt_poll_ns`), 200 µs.
  static let idlePollMaximum: Int64 = 200_000

  /// The longest the loop polls, in nanoseconds; 0 turns polling off.
  let maximum: Int64
  /// The window a short idle spell opens first (clamped to `maximum`).
  let growStart: Int64
  /// How long the loop polls before its next sleep, in nanoseconds.
  private(set) var current: Int64 = 0

  init(maximum: Int64, growStart: Int64 = 50_000) {
    self.maximum = max(0, maximum)
    self.growStart = min(max(0, growStart), self.maximum)
  }

  /// Tells the window that the loop was idle for `nanoseconds` (from its last event to its next one, polling
  /// included), and adapts it.
  mutating func idled(nanoseconds: Int64) {
    guard maximum > 0 else { return }
    if nanoseconds > maximum {
      current /= 2
    } else if nanoseconds > current {
      // Compared with half the maximum rather than doubled first: no doubling can overflow.
      current = current > maximum / 2 ? maximum : max(growStart, current * 2)
    }
  }
}
