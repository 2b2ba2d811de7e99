import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// The retry rule and the `Retry-After` reader, table-driven: no sockets, no clocks.
@Suite struct RetryPolicyTests {
  static func rule(
    attempts: Int = 2, on: Set<FallbackTrigger> = [.connect, .serverError, .rateLimited], maxWait: Int64 = 2_000,
    backoff: Int64 = 100
  )
    -> RetryPolicy
  {
    RetryPolicy(
      rule: RetryRule(
        attempts: attempts, on: on, maxWait: DurationValue(milliseconds: maxWait),
        backoff: DurationValue(milliseconds: backoff)))
  }

  @Test func backoffDoublesPerRetryAndIsScaledByTheJitter() {
    let policy = Self.rule()
    #expect(policy.decide(.reset, retries: 0, remaining: nil, jitter: 1) == .retry(after: .milliseconds(100)))
    #expect(policy.decide(.reset, retries: 1, remaining: nil, jitter: 1) == .retry(after: .milliseconds(200)))
    #expect(policy.decide(.reset, retries: 1, remaining: nil, jitter: 0.5) == .retry(after: .milliseconds(100)))
    // A jitter outside 0.5...1 is clamped: a bad random source cannot make louter hammer or stall.
    #expect(policy.decide(.reset, retries: 0, remaining: nil, jitter: 0) == .retry(after: .milliseconds(50)))
    #expect(policy.decide(.reset, retries: 0, remaining: nil, jitter: 9) == .retry(after: .milliseconds(100)))
  }

  @Test func attemptsAreBounded() {
    let policy = Self.rule(attempts: 2)
    #expect(policy.decide(.connectFailed, retries: 2, remaining: nil, jitter: 1) == .moveOn)
    #expect(Self.rule(attempts: 0).decide(.connectFailed, retries: 0, remaining: nil, jitter: 1) == .moveOn)
  }

  @Test func onlyTheConfiguredFaultsAreRetried() {
    let policy = Self.rule(on: [.serverError])
    #expect(policy.decide(.upstreamStatus(502, retryAfter: nil), retries: 0, remaining: nil, jitter: 1) != .moveOn)
    for fault: HopFault in [
      .connectFailed, .timedOut(.firstToken), .upstreamStatus(400, retryAfter: nil), .contextTooLong, .busy,
      .unhealthy, .skipped, .rejected, .cancelledByClient,
    ] {
      #expect(policy.decide(fault, retries: 0, remaining: nil, jitter: 1) == .moveOn, "\(fault)")
    }
  }

  @Test func retryAfterIsHonouredWithinMaxWaitAndTheClientsDeadline() {
    let policy = Self.rule(maxWait: 2_000)
    let soon = HopFault.upstreamStatus(429, retryAfter: .milliseconds(1_500))
    #expect(policy.decide(soon, retries: 0, remaining: nil, jitter: 0.5) == .retry(after: .milliseconds(1_500)))
    #expect(policy.decide(soon, retries: 0, remaining: .seconds(1), jitter: 1) == .moveOn, "the client would be gone")
    #expect(
      policy.decide(.upstreamStatus(503, retryAfter: .seconds(3)), retries: 0, remaining: nil, jitter: 1) == .moveOn)
    // A 429 that does not say when is a quota: the next backend, not a backoff.
    #expect(policy.decide(.upstreamStatus(429, retryAfter: nil), retries: 0, remaining: nil, jitter: 1) == .moveOn)
  }

  @Test func retryAfterHeadersAreReadAsTheRFCSays() {
    let now: Int64 = 1_445_412_480 - 30
    func read(_ header: String?, ms: String? = nil) -> Int64? {
      RetryAfter.milliseconds(retryAfter: header, milliseconds: ms, now: now)
    }
    #expect(read("7") == 7_000)
    #expect(read(nil, ms: "250") == 250)
    #expect(read("7", ms: "250.9") == 250, "retry-after-ms is the more precise")
    #expect(read("Wed, 21 Oct 2015 07:28:00 GMT") == 30_000)
    #expect(read("Wed, 21 Oct 2015 07:27:00 GMT") == 0, "a date already past means now")
    for hostile in [
      "-5", "1e3", "inf", "", "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT",
      "Wed, 21 Oct 2015 24:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 UTC",
    ] {
      #expect(read(hostile) == nil, "\(hostile)")
    }
    #expect(read(String(repeating: "9", count: 400)) == RetryAfter.maxMilliseconds)
    #expect(read("Fri, 31 Dec 9999 23:59:59 GMT") == RetryAfter.maxMilliseconds)
    #expect(RetryAfter.httpDate("Tue, 29 Feb 2000 00:00:00 GMT") == 951_782_400)
  }

  @Test func googleRetryInfoDelaysAreRead() {
    #expect(RetryAfter.protobufDuration("12s") == 12_000)
    #expect(RetryAfter.protobufDuration("1.5s") == 1_500)
    #expect(RetryAfter.protobufDuration("0.0255s") == 25)
    for hostile in ["12", "s", "1.s", "-1s", "1e3s", "1.5xs"] {
      #expect(RetryAfter.protobufDuration(hostile) == nil, "\(hostile)")
    }
    #expect(RetryAfter.protobufDuration(String(repeating: "9", count: 50) + "s") == RetryAfter.maxMilliseconds)
    let error = GeminiError(
      .resourceExhausted, message: "quota",
      details: [.object(["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"])])
    #expect(Exchange.retryInfoDelay(error) == 43_000)
  }
}
