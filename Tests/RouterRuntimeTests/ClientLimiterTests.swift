import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// A wall clock the test moves by hand, in milliseconds since the Unix epoch.
final class ManualWallClock: Sendable {
  private let milliseconds: Mutex<Int64>

  init(_ start: Int64) { milliseconds = Mutex(start) }

  var now: Int64 { milliseconds.withLock { $0 } }

  func set(_ value: Int64) { milliseconds.withLock { $0 = value } }

  func advance(by delta: Int64) { milliseconds.withLock { $0 += delta } }

  var read: @Sendable () -> Int64 { { self.now } }
}

@Suite struct ClientLimiterTests {
  /// 2026-12-02 00:00:00 UTC: the start of a day, an hour and a minute.
  static let midnight: Int64 = 1_796_169_600_000

  func limiter(at time: Int64 = midnight) -> (ClientLimiter, ManualWallClock) {
    let clock = ManualWallClock(time)
    return (ClientLimiter(clock: clock.read), clock)
  }

  func refusal(_ admission: ClientLimiter.Admission) -> ClientLimiter.Refusal? {
    if case .refused(let refusal) = admission { return refusal }
    return nil
  }

  func ticket(_ admission: ClientLimiter.Admission) -> ClientLimiter.Ticket? {
    if case .admitted(let ticket) = admission { return ticket }
    return nil
  }

  @Test func requestsPerMinuteRefusesTheNextRequestUntilTheMinuteEnds() {
    let (limiter, clock) = limiter(at: Self.midnight + 48_000)
    let limits = ClientLimits([.requestsPerMinute: 2])
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    let refused = refusal(limiter.admit(client: "a", limits: limits, stream: false))
    #expect(refused == ClientLimiter.Refusal(kind: .requestsPerMinute, limit: 2, retryAfterMilliseconds: 12_000))
    #expect(refused?.retryAfterSeconds == 12)
    // A refused request is not counted.
    #expect(limiter.usage(client: "a", .requestsPerMinute) == 2)
    clock.advance(by: 11_999)
    #expect(refusal(limiter.admit(client: "a", limits: limits, stream: false))?.retryAfterMilliseconds == 1)
    #expect(refusal(limiter.admit(client: "a", limits: limits, stream: false))?.retryAfterSeconds == 1)
    clock.advance(by: 1)
    #expect(limiter.usage(client: "a", .requestsPerMinute) == 0)
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
  }

  @Test func windowsAreFixedAndAlignedToUTCNotToTheFirstRequest() {
    let (limiter, clock) = limiter(at: Self.midnight + 59_000)
    let limits = ClientLimits([.requestsPerMinute: 1])
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    #expect(refusal(limiter.admit(client: "a", limits: limits, stream: false))?.retryAfterMilliseconds == 1000)
    clock.advance(by: 1000)
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
  }

  @Test func hourAndDayWindowsSayWhenTheyEnd() {
    let (limiter, clock) = limiter(at: Self.midnight + 3_600_000 * 5 + 60_000 * 30)
    let hourly = ClientLimits([.requestsPerHour: 1])
    #expect(ticket(limiter.admit(client: "h", limits: hourly, stream: false)) != nil)
    #expect(refusal(limiter.admit(client: "h", limits: hourly, stream: false))?.retryAfterSeconds == 1800)
    let daily = ClientLimits([.requestsPerDay: 1])
    #expect(ticket(limiter.admit(client: "d", limits: daily, stream: false)) != nil)
    #expect(refusal(limiter.admit(client: "d", limits: daily, stream: false))?.retryAfterSeconds == 66_600)
    clock.set(Self.midnight + 86_400_000)
    #expect(ticket(limiter.admit(client: "d", limits: daily, stream: false)) != nil)
  }

  @Test func ofSeveralLimitsReachedTheOneThatEndsLastIsReported() {
    let (limiter, _) = limiter(at: Self.midnight + 30_000)
    let limits = ClientLimits([.requestsPerMinute: 1, .requestsPerDay: 1])
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    let refused = refusal(limiter.admit(client: "a", limits: limits, stream: false))
    #expect(refused?.kind == .requestsPerDay)
    #expect(refused?.retryAfterMilliseconds == 86_370_000)
  }

  @Test func clientsAreCountedApart() {
    let (limiter, _) = limiter()
    let limits = ClientLimits([.requestsPerMinute: 1])
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    #expect(ticket(limiter.admit(client: "b", limits: limits, stream: false)) != nil)
    #expect(refusal(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
  }

  @Test func aTokenQuotaAdmitsWhileTheDaysTotalIsBelowIt() throws {
    let (limiter, clock) = limiter(at: Self.midnight + 3_600_000)
    let limits = ClientLimits([.inputTokensPerDay: 100, .outputTokensPerDay: 50])
    let first = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: false)))
    // Tokens count when the request ends; one that is in flight does not hold the quota back.
    let second = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: false)))
    limiter.finish(first, inputTokens: 99, outputTokens: 10)
    #expect(limiter.usage(client: "a", .inputTokensPerDay) == 99)
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    limiter.finish(second, inputTokens: 1, outputTokens: 10)
    let refused = refusal(limiter.admit(client: "a", limits: limits, stream: false))
    #expect(refused?.kind == .inputTokensPerDay)
    #expect(refused?.retryAfterSeconds == 82_800)
    clock.set(Self.midnight + 86_400_000)
    let next = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: false)))
    limiter.finish(next, inputTokens: 0, outputTokens: 50)
    #expect(refusal(limiter.admit(client: "a", limits: limits, stream: false))?.kind == .outputTokensPerDay)
  }

  @Test func hostileTokenCountsNeitherTrapNorGoBackwards() throws {
    let (limiter, _) = limiter()
    let limits = ClientLimits([.inputTokensPerDay: 1_000_000_000_000])
    for input in [Int.max, Int.max, -5] {
      let admitted = ticket(limiter.admit(client: "a", limits: limits, stream: false))
      if let admitted { limiter.finish(admitted, inputTokens: input, outputTokens: Int.min) }
    }
    #expect(limiter.usage(client: "a", .inputTokensPerDay) == Int.max)
    #expect(limiter.usage(client: "a", .outputTokensPerDay) == 0)
  }

  @Test func aStreamHoldsItsSlotUntilItFinishes() throws {
    let (limiter, _) = limiter()
    let limits = ClientLimits([.concurrentStreams: 2])
    let first = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: true)))
    let second = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: true)))
    let refused = refusal(limiter.admit(client: "a", limits: limits, stream: true))
    #expect(refused == ClientLimiter.Refusal(kind: .concurrentStreams, limit: 2, retryAfterMilliseconds: 1000))
    // A whole answer takes no stream slot.
    #expect(ticket(limiter.admit(client: "a", limits: limits, stream: false)) != nil)
    limiter.finish(first, inputTokens: nil, outputTokens: nil)
    #expect(limiter.usage(client: "a", .concurrentStreams) == 1)
    let third = try #require(ticket(limiter.admit(client: "a", limits: limits, stream: true)))
    limiter.finish(second, inputTokens: nil, outputTokens: nil)
    limiter.finish(third, inputTokens: nil, outputTokens: nil)
    #expect(limiter.usage(client: "a", .concurrentStreams) == 0)
  }

  @Test func aClientWithoutLimitsIsNeverCounted() throws {
    let (limiter, _) = limiter()
    for _ in 0..<3 {
      let admitted = try #require(ticket(limiter.admit(client: "a", limits: ClientLimits(), stream: true)))
      limiter.finish(admitted, inputTokens: 10, outputTokens: 10)
    }
    #expect(limiter.usage(client: "a", .requestsPerMinute) == 0)
    #expect(limiter.usage(client: "a", .inputTokensPerDay) == 0)
  }

  @Test func theRefusalIsA429WithRetryInfo() {
    let refusal = ClientLimiter.Refusal(kind: .requestsPerMinute, limit: 60, retryAfterMilliseconds: 11_001)
    let error = refusal.error(client: "team-a")
    #expect(error.code == 429)
    #expect(error.status == "RESOURCE_EXHAUSTED")
    let retryInfo = error.details.first { $0["@type"]?.stringValue == "type.googleapis.com/google.rpc.RetryInfo" }
    #expect(retryInfo?["retryDelay"]?.stringValue == "12s")
    #expect(OpenAIWire.retryAfterHeaders(error).first?.1 == "12")
  }
}
