import Testing

@testable import RouterRuntime

/// The adaptive poll window of an idle loop (`[server] idle_poll`), driven by the idle spells it is told of:
/// it opens on spells that polling could have caught, doubles up to its maximum, halves on spells longer
/// than the maximum, and never opens when polling is off; and a loop that polls by it.
@Suite struct PollWindowTests {
  @Test func startsClosedAndOpensAtGrowStartOnAShortSpell() {
    var window = PollWindow(maximum: 200_000, growStart: 50_000)
    #expect(window.current == 0)
    window.idled(nanoseconds: 30_000)
    #expect(window.current == 50_000)
  }

  @Test func doublesOnSpellsLongerThanTheWindowUpToTheMaximum() {
    var window = PollWindow(maximum: 200_000, growStart: 50_000)
    var seen: [Int64] = []
    for _ in 0..<5 {
      window.idled(nanoseconds: 190_000)
      seen.append(window.current)
    }
    #expect(seen == [50_000, 100_000, 200_000, 200_000, 200_000])
  }

  @Test func aSpellTheWindowCaughtLeavesItAsItIs() {
    var window = PollWindow(maximum: 200_000, growStart: 50_000)
    window.idled(nanoseconds: 120_000)
    window.idled(nanoseconds: 120_000)
    #expect(window.current == 100_000)
    window.idled(nanoseconds: 60_000)
    window.idled(nanoseconds: 100_000)
    #expect(window.current == 100_000)
  }

  @Test func halvesOnSpellsLongerThanTheMaximumUntilClosed() {
    var window = PollWindow(maximum: 200_000, growStart: 50_000)
    for _ in 0..<3 { window.idled(nanoseconds: 150_000) }
    #expect(window.current == 200_000)
    window.idled(nanoseconds: 20_000_000)
    #expect(window.current == 100_000)
    window.idled(nanoseconds: 200_001)
    #expect(window.current == 50_000)
    for _ in 0..<20 { window.idled(nanoseconds: 1_000_000_000) }
    #expect(window.current == 0)
  }

  @Test func offNeverOpensAndHostileDurationsAreClamped() {
    var off = PollWindow(maximum: 0)
    for spell in [Int64(1), 10_000, 199_999, Int64.max, Int64.min, -5] { off.idled(nanoseconds: spell) }
    #expect(off.current == 0)
    // A negative spell (a clock step) counts as short; the largest ones as long; neither traps.
    var window = PollWindow(maximum: Int64.max, growStart: Int64.max)
    window.idled(nanoseconds: -1)
    #expect(window.current == 0)
    window.idled(nanoseconds: 1)
    #expect(window.current == Int64.max)
    window.idled(nanoseconds: Int64.max)
    #expect(window.current == Int64.max)
    let negative = PollWindow(maximum: -10, growStart: 5)
    #expect(negative.maximum == 0 && negative.growStart == 0)
  }

  @Test func aGrowStartAboveTheMaximumIsTheMaximum() {
    var window = PollWindow(maximum: 30_000, growStart: 50_000)
    window.idled(nanoseconds: 10_000)
    #expect(window.current == 30_000)
  }

  /// A loop whose window is open polls before it sleeps, and the timer it sleeps toward still fires; a loop with
  /// polling off never polls.
  @Test(.timeLimit(.minutes(1))) func aLoopWithAnOpenWindowPollsBeforeItSleepsAndItsTimersStillFire() async throws {
    var open = PollWindow(maximum: 200_000)
    open.idled(nanoseconds: 10_000)
    #expect(open.current == 50_000)
    for (window, polls) in [(open, true), (PollWindow(maximum: 0), false)] {
      let reactor = try Reactor(name: "poll-test", pollWindow: window)
      reactor.start()
      // The loop goes idle with the timer pending: it polls first (when its window is open), then sleeps.
      await withCheckedContinuation { (fired: CheckedContinuation<Void, Never>) in
        reactor.execute {
          _ = reactor.schedule(at: MonotonicInstant.now.advanced(by: .milliseconds(2))) { fired.resume() }
        }
      }
      let made = await reactor.perform { reactor.polls }
      #expect((made > 0) == polls, "\(made) polls")
      await reactor.stop()
    }
  }
}
