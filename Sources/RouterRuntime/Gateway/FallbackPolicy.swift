import RouteCompiler
import RouteSpec

/// Why a hop did not serve the request, told apart as far as the fallback rule and passive health need.
enum HopFault: Equatable, Sendable {
  /// The backend could not be reached (refused, unresolvable, TLS handshake failed).
  case connectFailed
  /// A deadline passed before anything reached the client; the phase says which.
  case timedOut(UpstreamTimeout)
  /// The connection broke, or the transport could not read the answer (cut short, not HTTP, too large).
  case reset
  /// A 2xx answer louter cannot relay or translate: not JSON, a stream with no event or cut inside one.
  case invalidAnswer
  /// The backend answered with this HTTP error status, or with an error event of this status before any
  /// event reached the client; `retryAfter` when it said when to come back.
  case upstreamStatus(Int, retryAfter: Duration?)
  /// The backend refused the input as longer than its context window (a 400, 413 or 422 that says so).
  case contextTooLong
  /// The backend is at its `max_concurrency`.
  case busy
  /// The backend is cooling down after repeated failures.
  case unhealthy
  /// The backend cannot be used as configured (no key to forward, an empty `api_key`, a URL or header that
  /// cannot go on the wire).
  case skipped
  /// The request is wrong for this backend (louter cannot decode, translate or send it): another backend
  /// would refuse it the same way.
  case rejected
  /// The client went away.
  case cancelledByClient

  /// The route-file `fallback_on` trigger this fault is, if any.
  var trigger: FallbackTrigger? {
    switch self {
    case .connectFailed, .reset: .connect
    case .timedOut: .timeout
    case .invalidAnswer: .serverError
    case .contextTooLong: .contextLength
    case .upstreamStatus(let status, _):
      switch status {
      case 429: .rateLimited
      case 408: .timeout
      case 500...599: .serverError
      default: nil
      }
    case .busy, .unhealthy, .skipped, .rejected, .cancelledByClient: nil
    }
  }

  /// A backend that was not tried at all (busy, cooling down, unconfigured) is passed over whatever
  /// `fallback_on` says.
  var passesOver: Bool { self == .busy || self == .unhealthy || self == .skipped }

  /// Whether the fault says something about the backend's health (a 429 is a quota, not a fault).
  var countsAgainstHealth: Bool {
    switch trigger {
    case .connect?, .timeout?, .serverError?: true
    case .rateLimited?, .contextLength?, nil: false
    }
  }
}

/// Where a failure happened.
enum ChainPosition: Equatable, Sendable {
  /// Nothing has reached the client yet; `hasNext` when another backend follows this one.
  case beforeAnswer(hasNext: Bool)
  /// Part of the answer (a stream's head) has reached the client, so none of it can be taken back;
  /// `canContinue` when the route continues broken streams, a backend follows, and what was streamed is
  /// plain text another backend can go on from.
  case afterFirstByte(canContinue: Bool)
}

/// What the chain does after a hop failed.
enum FallbackDecision: Equatable, Sendable {
  /// Try the next backend (after the first byte: ask it to continue the answer from where it broke).
  case next
  /// This failure is the client's answer: its status and error body, or, once bytes reached the client, an
  /// in-band error that ends the stream.
  case answer
  /// The chain ends without this failure as its answer.
  case fail(ChainEnd)
}

/// How a chain ends that no hop answered.
enum ChainEnd: Equatable, Sendable {
  /// Every backend was tried or passed over: the client gets every failure, aggregated.
  case spent
  /// The client went away: nothing more is sent, and the request is recorded as 499.
  case clientGone
}

/// The one fallback rule of a route's chain: given a hop's failure and where it stands, go on, answer, or
/// fail. Pure: it knows nothing of sockets, clocks or backends.
struct FallbackPolicy: Sendable {
  /// The route's `fallback_on` triggers.
  let fallbackOn: Set<FallbackTrigger>

  func decide(_ fault: HopFault, at position: ChainPosition) -> FallbackDecision {
    if fault == .cancelledByClient { return .fail(.clientGone) }
    switch position {
    case .beforeAnswer(let hasNext):
      let goesOn = fault.passesOver || fault.trigger.map(fallbackOn.contains) == true
      guard goesOn else { return .answer }
      return hasNext ? .next : .fail(.spent)
    case .afterFirstByte(let canContinue):
      // Nothing sent can be taken back: the answer goes on elsewhere from where it broke, or the failure
      // is the client's answer, in-band.
      return canContinue && fault.trigger.map(fallbackOn.contains) == true ? .next : .answer
    }
  }
}

/// What the chain does with a failed hop before it asks ``FallbackPolicy``: try the same backend again.
enum RetryDecision: Equatable, Sendable {
  /// Wait this long, then send the same request to the same backend.
  case retry(after: Duration)
  /// Do not retry: the fallback rule decides.
  case moveOn
}

/// The one retry rule of a route: given a hop's failure before any answer, how many retries that backend had,
/// and how long the client will still wait, retry after a wait or move on. Pure: the caller supplies the
/// jitter and the client's remaining time.
struct RetryPolicy: Sendable {
  let rule: RetryRule

  /// - Parameters:
  ///   - retries: the retries of this backend so far in this request.
  ///   - remaining: how long the client will still wait, when it said (`x-server-timeout`); nil when unknown.
  ///   - jitter: a fraction in 0.5...1 that scales the backoff, so that clients failed together spread out.
  func decide(_ fault: HopFault, retries: Int, remaining: Duration?, jitter: Double) -> RetryDecision {
    guard retries < rule.attempts, let trigger = fault.trigger, rule.on.contains(trigger) else { return .moveOn }
    let wait: Duration
    if case .upstreamStatus(_, let retryAfter?) = fault {
      // The backend said when: earlier would only be refused again, and later wastes the client's time.
      wait = retryAfter
    } else if trigger == .rateLimited {
      // A quota that does not say when it refills rarely refills within a backoff: the next backend is faster.
      return .moveOn
    } else {
      // Doubling from `backoff`: `retries` is at most 5, so the shift cannot overflow the milliseconds.
      let base = Double(rule.backoff.milliseconds << retries)
      wait = .milliseconds(Int64((base * min(max(jitter, 0.5), 1)).rounded()))
    }
    guard wait <= rule.maxWait.duration else { return .moveOn }
    if let remaining, wait >= remaining { return .moveOn }
    return .retry(after: wait)
  }
}
