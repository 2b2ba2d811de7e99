import Testing

@testable import RouterRuntime

/// The runtime's instant: the arithmetic deadlines use, exact to the nanosecond, and saturating instead of
/// trapping at the ends of its range.
@Suite struct MonotonicInstantTests {
  static let base = MonotonicInstant(nanoseconds: 1_000_000_000_000)

  @Test(arguments: [
    Duration.zero, .nanoseconds(1), .microseconds(250), .milliseconds(300), .seconds(3600), .seconds(-2),
    .nanoseconds(-7),
  ])
  func advancingAndMeasuringAgree(duration: Duration) {
    let later = Self.base.advanced(by: duration)
    #expect(Self.base.duration(to: later) == duration)
    #expect(later - Self.base == duration)
    #expect(Self.base + duration == later)
    #expect(later - duration == Self.base)
    var moved = Self.base
    moved += duration
    #expect(moved == later)
    #expect((duration > .zero) == (later > Self.base))
  }

  @Test func partsOfANanosecondAreDropped() {
    #expect(Self.base.advanced(by: .nanoseconds(5) + .seconds(0.0000000004)).nanoseconds == Self.base.nanoseconds + 5)
    #expect(MonotonicInstant.nanoseconds(of: .seconds(1.5)) == 1_500_000_000)
  }

  @Test func theEndsOfTheRangeSaturate() {
    let top = MonotonicInstant(nanoseconds: .max - 5)
    #expect(top.advanced(by: .seconds(1)).nanoseconds == .max)
    #expect(Self.base.advanced(by: .seconds(Int64.max)).nanoseconds == .max)
    #expect(MonotonicInstant(nanoseconds: -1).advanced(by: .seconds(Int64.min)).nanoseconds == .min)
    #expect(MonotonicInstant(nanoseconds: .min + 5).advanced(by: .seconds(-1)).nanoseconds == .min)
    let (first, last) = (MonotonicInstant(nanoseconds: .min), MonotonicInstant(nanoseconds: .max))
    #expect(first.duration(to: last) == .nanoseconds(Int64.max))
    #expect(last.duration(to: first) == .nanoseconds(Int64.min))
    #expect(MonotonicInstant(nanoseconds: .max) - Duration.seconds(Int64.min) == MonotonicInstant(nanoseconds: .max))
  }

  @Test func nanosecondsAndSecondsWithoutADuration() {
    #expect(Self.base.advanced(byNanoseconds: 250) == Self.base.advanced(by: .nanoseconds(250)))
    #expect(MonotonicInstant(nanoseconds: .max - 1).advanced(byNanoseconds: 5).nanoseconds == .max)
    #expect(MonotonicInstant(nanoseconds: .min + 1).advanced(byNanoseconds: -5).nanoseconds == .min)
    #expect(Self.base.seconds(to: Self.base.advanced(by: .milliseconds(250))) == 0.25)
    #expect(Self.base.seconds(to: Self.base.advanced(by: .seconds(-3))) == -3)
    #expect(
      MonotonicInstant(nanoseconds: .min).seconds(to: MonotonicInstant(nanoseconds: .max)) == Double(Int64.max) / 1e9)
    // Truncated toward zero either way, and clamped at the ends.
    #expect(MonotonicInstant.nanoseconds(of: .seconds(-1) - .nanoseconds(1) + .seconds(0.0000000004)) == -1_000_000_000)
    #expect(MonotonicInstant.nanoseconds(of: .seconds(Int64.max)) == .max)
    #expect(MonotonicInstant.nanoseconds(of: .seconds(Int64.min)) == .min)
  }

  @Test func nowNeverGoesBack() {
    var last = MonotonicInstant.now
    for _ in 0..<1000 {
      let next = MonotonicInstant.now
      #expect(next >= last)
      last = next
    }
    #expect(last.nanoseconds > 0)
  }
}
