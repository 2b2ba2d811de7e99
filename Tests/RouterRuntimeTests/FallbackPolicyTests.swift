import RouteSpec
import Testing

@testable import RouterRuntime

/// The chain's fallback rule, table-driven: no sockets, no backends.
@Suite struct FallbackPolicyTests {
  private static let every = FallbackPolicy(fallbackOn: Set(FallbackTrigger.allCases))
  private static let none = FallbackPolicy(fallbackOn: [])
  private static let middle = ChainPosition.beforeAnswer(hasNext: true)
  private static let last = ChainPosition.beforeAnswer(hasNext: false)

  private static let faults: [HopFault] = [
    .connectFailed, .timedOut(.connect(.seconds(1))), .timedOut(.firstByte(.seconds(1))), .timedOut(.firstToken),
    .timedOut(.idle(.seconds(1))), .timedOut(.total(.seconds(1))), .reset, .invalidAnswer,
    .upstreamStatus(429, retryAfter: nil), .upstreamStatus(429, retryAfter: .seconds(7)),
    .upstreamStatus(503, retryAfter: .seconds(7)), .upstreamStatus(408, retryAfter: nil),
    .upstreamStatus(400, retryAfter: nil), .upstreamStatus(404, retryAfter: nil),
    .upstreamStatus(500, retryAfter: nil), .upstreamStatus(599, retryAfter: nil), .busy, .unhealthy, .skipped,
    .rejected, .cancelledByClient,
  ]

  @Test func triggers() {
    let table: [(HopFault, FallbackTrigger?)] = [
      (.connectFailed, .connect), (.reset, .connect), (.timedOut(.connect(.seconds(1))), .timeout),
      (.timedOut(.firstToken), .timeout), (.timedOut(.idle(.seconds(2))), .timeout),
      (.timedOut(.total(.seconds(3))), .timeout), (.invalidAnswer, .serverError),
      (.upstreamStatus(429, retryAfter: .seconds(7)), .rateLimited),
      (.upstreamStatus(429, retryAfter: nil), .rateLimited),
      (.upstreamStatus(408, retryAfter: nil), .timeout), (.upstreamStatus(500, retryAfter: nil), .serverError),
      (.upstreamStatus(503, retryAfter: .seconds(7)), .serverError),
      (.upstreamStatus(599, retryAfter: nil), .serverError),
      (.upstreamStatus(400, retryAfter: nil), nil), (.upstreamStatus(418, retryAfter: nil), nil),
      (.upstreamStatus(600, retryAfter: nil), nil), (.busy, nil), (.unhealthy, nil), (.skipped, nil),
      (.rejected, nil), (.cancelledByClient, nil), (.contextTooLong, .contextLength),
    ]
    for (fault, trigger) in table { #expect(fault.trigger == trigger, "\(fault)") }
  }

  /// `fallback_on` covering every trigger: what goes on, what is answered, what ends the chain.
  @Test func everyTriggerConfigured() {
    let table: [(HopFault, FallbackDecision, FallbackDecision)] = [
      // fault, with a next backend, at the last backend
      (.connectFailed, .next, .fail(.spent)),
      (.timedOut(.firstByte(.seconds(1))), .next, .fail(.spent)),
      (.timedOut(.firstToken), .next, .fail(.spent)),
      (.reset, .next, .fail(.spent)),
      (.invalidAnswer, .next, .fail(.spent)),
      (.upstreamStatus(429, retryAfter: nil), .next, .fail(.spent)),
      (.upstreamStatus(429, retryAfter: .seconds(7)), .next, .fail(.spent)),
      (.upstreamStatus(503, retryAfter: .seconds(7)), .next, .fail(.spent)),
      (.upstreamStatus(408, retryAfter: nil), .next, .fail(.spent)),
      (.upstreamStatus(400, retryAfter: nil), .answer, .answer),
      (.upstreamStatus(404, retryAfter: nil), .answer, .answer),
      (.busy, .next, .fail(.spent)),
      (.unhealthy, .next, .fail(.spent)),
      (.skipped, .next, .fail(.spent)),
      (.rejected, .answer, .answer),
      (.cancelledByClient, .fail(.clientGone), .fail(.clientGone)),
      (.contextTooLong, .next, .fail(.spent)),
    ]
    for (fault, middle, last) in table {
      #expect(Self.every.decide(fault, at: Self.middle) == middle, "\(fault) with a next backend")
      #expect(Self.every.decide(fault, at: Self.last) == last, "\(fault) at the last backend")
    }
  }

  /// An empty `fallback_on`: every backend fault is answered, but backends never tried are still passed over.
  @Test func noTriggerConfigured() {
    for fault in Self.faults {
      let expected: FallbackDecision =
        switch fault {
        case .cancelledByClient: .fail(.clientGone)
        case .busy, .unhealthy, .skipped: .next
        default: .answer
        }
      #expect(Self.none.decide(fault, at: Self.middle) == expected, "\(fault)")
    }
  }

  /// One trigger at a time: only faults of that trigger go on.
  @Test func eachTriggerAlone() {
    for trigger in FallbackTrigger.allCases {
      let policy = FallbackPolicy(fallbackOn: [trigger])
      for fault in Self.faults where !fault.passesOver && fault != .cancelledByClient {
        let expected: FallbackDecision = fault.trigger == trigger ? .next : .answer
        #expect(policy.decide(fault, at: Self.middle) == expected, "\(trigger) \(fault)")
      }
    }
  }

  /// Once bytes reached the client nothing falls back: every fault is answered (in-band), but a gone
  /// client is still gone.
  @Test func afterTheFirstByteEverythingIsAnswered() {
    for policy in [Self.every, Self.none] {
      for fault in Self.faults {
        let decision = policy.decide(fault, at: .afterFirstByte(canContinue: false))
        #expect(decision == (fault == .cancelledByClient ? .fail(.clientGone) : .answer), "\(fault)")
      }
    }
  }

  @Test func health() {
    let table: [(HopFault, Bool)] = [
      (.connectFailed, true), (.reset, true), (.timedOut(.total(.seconds(1))), true), (.invalidAnswer, true),
      (.upstreamStatus(500, retryAfter: nil), true), (.upstreamStatus(408, retryAfter: nil), true),
      (.upstreamStatus(429, retryAfter: .seconds(7)), false), (.upstreamStatus(400, retryAfter: nil), false),
      (.busy, false), (.unhealthy, false), (.skipped, false), (.rejected, false), (.cancelledByClient, false),
    ]
    for (fault, counts) in table { #expect(fault.countsAgainstHealth == counts, "\(fault)") }
  }

  /// Transport errors and upstream statuses become the faults the policy reads.
  @Test func faultsFromTheUpstream() {
    let table: [(UpstreamError, HopFault, String)] = [
      (.connectFailed("refused"), .connectFailed, "connect"),
      (.timedOut(phase: .firstToken), .timedOut(.firstToken), "timeout"),
      (.connectionReset("rst"), .reset, "reset"), (.invalidResponse("junk"), .reset, "reset"),
      (.tooLarge, .reset, "reset"), (.cancelled, .cancelledByClient, "cancelled"),
      (.invalidRequest("CR"), .rejected, "not-sent"),
    ]
    for (error, fault, outcome) in table {
      let failure = Exchange.failure(error, backend: "b")
      #expect(failure.fault == fault, "\(error)")
      #expect(failure.outcome == outcome)
    }
    let limited = Exchange.failure(
      status: 429, retryAfter: .seconds(7), error: GeminiError(.resourceExhausted, message: "q"), backend: "b")
    #expect(limited.fault == .upstreamStatus(429, retryAfter: .seconds(7)) && limited.outcome == "429")
  }

  /// The answer for a spent chain: the most telling status over every failure.
  @Test func aggregate() {
    func failure(_ fault: HopFault, _ error: GeminiError) -> HopFailure {
      HopFailure(backend: "b", fault: fault, error: error, outcome: "x")
    }
    let limited = failure(.upstreamStatus(429, retryAfter: nil), GeminiError(.resourceExhausted, message: "q"))
    let busy = failure(.busy, GeminiError(.resourceExhausted, message: "busy"))
    let cooling = failure(.unhealthy, .unavailable("cooling"))
    #expect(Exchange.aggregate([limited, cooling]).code == 429)
    #expect(Exchange.aggregate([busy, cooling]).code == 429)
    let timeouts = [
      failure(.timedOut(.firstToken), .deadlineExceeded("t")),
      failure(.upstreamStatus(408, retryAfter: nil), .unavailable("408")),
    ]
    #expect(Exchange.aggregate(timeouts).rpc == .deadlineExceeded)
    let broken = [
      failure(.invalidAnswer, .unavailable("a")), failure(.upstreamStatus(500, retryAfter: nil), .internal("b")),
    ]
    #expect(Exchange.aggregate(broken).code == 502 && Exchange.aggregate(broken).rpc == .unavailable)
    let same = [
      failure(.invalidAnswer, Exchange.notJSON("x", backend: "a")),
      failure(.reset, Exchange.notJSON("y", backend: "b")),
    ]
    #expect(Exchange.aggregate(same).code == 502 && Exchange.aggregate(same).rpc == .unavailable)
    #expect(Exchange.aggregate([failure(.connectFailed, .unavailable("c")), limited]).code == 503)
  }

  /// A context-length refusal is the caller's own unless the route opts in: the default set leaves it out.
  @Test func contextLengthIsAnOptIn() {
    let byDefault = FallbackPolicy(fallbackOn: FallbackTrigger.defaultFallbackOn)
    #expect(byDefault.decide(.contextTooLong, at: Self.middle) == .answer)
    #expect(byDefault.decide(.upstreamStatus(503, retryAfter: nil), at: Self.middle) == .next)
    let optedIn = FallbackPolicy(fallbackOn: [.contextLength])
    #expect(optedIn.decide(.contextTooLong, at: Self.middle) == .next)
    #expect(!HopFault.contextTooLong.countsAgainstHealth, "a long prompt says nothing about the backend")
  }
}

/// After the first byte, a stream that can be continued goes to the next backend for the faults the route
/// falls back on; everything else is still answered in-band.
@Suite struct ContinuationPolicyTests {
  @Test func aBrokenStreamContinuesOnlyWhereTheRouteFallsBackOnItsFault() {
    let policy = FallbackPolicy(fallbackOn: [.connect, .timeout, .serverError])
    let continuable = ChainPosition.afterFirstByte(canContinue: true)
    for fault: HopFault in [
      .reset, .timedOut(.idle(.seconds(1))), .invalidAnswer, .upstreamStatus(500, retryAfter: nil),
    ] {
      #expect(policy.decide(fault, at: continuable) == .next, "\(fault)")
      #expect(policy.decide(fault, at: .afterFirstByte(canContinue: false)) == .answer, "\(fault)")
    }
    #expect(policy.decide(.upstreamStatus(429, retryAfter: nil), at: continuable) == .answer, "429 not in fallback_on")
    #expect(policy.decide(.upstreamStatus(400, retryAfter: nil), at: continuable) == .answer)
    #expect(policy.decide(.cancelledByClient, at: continuable) == .fail(.clientGone))
  }
}
