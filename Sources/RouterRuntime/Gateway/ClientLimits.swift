import FoundationEssentials
import RouteCompiler
public import RouteSpec
import Synchronization

/// The counters behind each client's `limits`: requests per minute, hour and day, input and output tokens per
/// day, and streams in flight.
///
/// Windows are fixed and aligned to UTC: a minute from :00 seconds, an hour from :00 minutes, a day from
/// 00:00 UTC. A client may therefore spend up to twice a limit across one window boundary; in exchange the
/// state is one counter per limit and the retry delay is exact (the time to the window's end).
///
/// Counters are in memory and per replica: N replicas behind a load balancer admit up to N times each limit.
/// They are keyed by client name, so a reload of the routes keeps them (a renamed client starts afresh);
/// a restart resets them.
public final class ClientLimiter: Sendable {
  /// Why a request was refused: the limit reached and when trying again can succeed.
  public struct Refusal: Sendable, Equatable {
    /// The limit reached.
    public let kind: ClientLimitKind
    /// Its value.
    public let limit: Int
    /// Milliseconds until the limit's window ends (a fixed second for `concurrent_streams`, which has none).
    public let retryAfterMilliseconds: Int64

    /// The delay in whole seconds, rounded up and at least one: what `Retry-After` and `RetryInfo` say.
    public var retryAfterSeconds: Int64 { max(1, (retryAfterMilliseconds + 999) / 1000) }
  }

  /// A request let in; ``ClientLimiter/finish(_:inputTokens:outputTokens:)`` must be called with it when the
  /// request ends, to count its tokens and free its stream slot.
  public struct Ticket: Sendable {
    /// The client counted, nil when it has no limits.
    let client: String?
    /// True when the request holds a `concurrent_streams` slot.
    let holdsStream: Bool
  }

  /// What ``ClientLimiter/admit(client:limits:stream:)`` decided.
  public enum Admission: Sendable {
    /// Let in and counted.
    case admitted(Ticket)
    /// Over a limit: not counted.
    case refused(Refusal)
  }

  /// How often a stream refused by `concurrent_streams` is told to come back: no window says when a slot frees.
  static let streamRetryMilliseconds: Int64 = 1000

  /// One window's count.
  struct Window {
    /// The window's start, in milliseconds since the Unix epoch.
    var start: Int64
    var count: Int
  }

  /// One client's counters: a window per windowed limit kind, and the streams it has in flight.
  struct Counters {
    var windows: [ClientLimitKind: Window] = [:]
    var streams = 0

    /// The count of `kind` in the window holding `now`: a window that has ended counts zero.
    func count(_ kind: ClientLimitKind, at now: Int64) -> Int {
      guard let window = kind.window, let current = windows[kind], current.start == Self.start(of: window, at: now)
      else { return 0 }
      return current.count
    }

    /// Adds `amount` to `kind` in the window holding `now`, saturating at `Int.max`.
    mutating func add(_ amount: Int, to kind: ClientLimitKind, at now: Int64) {
      guard let window = kind.window else { return }
      let (sum, overflow) = count(kind, at: now).addingReportingOverflow(max(0, amount))
      windows[kind] = Window(start: Self.start(of: window, at: now), count: overflow ? Int.max : sum)
    }

    /// The start of the UTC-aligned `window` holding `now`.
    static func start(of window: LimitWindow, at now: Int64) -> Int64 {
      let length = window.milliseconds
      // Floor division: a clock before 1970 still lands in the window that holds it.
      let remainder = now % length
      return now - (remainder < 0 ? remainder + length : remainder)
    }
  }

  /// Milliseconds since the Unix epoch: UTC-aligned windows need the wall clock, not a monotonic one.
  public let clock: @Sendable () -> Int64
  private let state = Mutex<[String: Counters]>([:])

  /// Creates empty counters; `clock` gives the wall time in milliseconds (tests inject their own).
  public init(clock: @escaping @Sendable () -> Int64 = ClientLimiter.systemMilliseconds) {
    self.clock = clock
  }

  /// The system's wall clock in milliseconds since the Unix epoch (0 if it reads outside a sane range).
  @Sendable public static func systemMilliseconds() -> Int64 {
    let seconds = Date().timeIntervalSince1970
    return seconds > 0 && seconds < 1e12 ? Int64(seconds * 1000) : 0
  }

  /// Lets a request of `client` in when every limit has room, counting it; else says which limit is reached
  /// (of several, the one whose window ends last, so that retrying after the delay can succeed).
  /// `stream` requests also take a `concurrent_streams` slot.
  public func admit(client: String, limits: ClientLimits, stream: Bool) -> Admission {
    guard !limits.isEmpty else { return .admitted(Ticket(client: nil, holdsStream: false)) }
    let now = clock()
    return state.withLock { clients in
      var counters = clients[client] ?? Counters()
      var refusal: Refusal?
      for (kind, limit) in limits.ordered {
        let retry: Int64
        if let window = kind.window {
          guard counters.count(kind, at: now) >= limit else { continue }
          retry = Counters.start(of: window, at: now) + window.milliseconds - now
        } else {
          guard stream, counters.streams >= limit else { continue }
          retry = Self.streamRetryMilliseconds
        }
        if retry > refusal?.retryAfterMilliseconds ?? Int64.min {
          refusal = Refusal(kind: kind, limit: limit, retryAfterMilliseconds: retry)
        }
      }
      if let refusal { return .refused(refusal) }
      for kind in ClientLimitKind.allCases where kind.quantity == .requests {
        counters.add(1, to: kind, at: now)
      }
      let holdsStream = stream && limits[.concurrentStreams] != nil
      if holdsStream { counters.streams += 1 }
      clients[client] = counters
      return .admitted(Ticket(client: client, holdsStream: holdsStream))
    }
  }

  /// Ends an admitted request: frees its stream slot and adds its tokens to the day that holds now.
  public func finish(_ ticket: Ticket, inputTokens: Int?, outputTokens: Int?) {
    guard let client = ticket.client else { return }
    let now = clock()
    state.withLock { clients in
      var counters = clients[client] ?? Counters()
      if ticket.holdsStream { counters.streams = max(0, counters.streams - 1) }
      counters.add(inputTokens ?? 0, to: .inputTokensPerDay, at: now)
      counters.add(outputTokens ?? 0, to: .outputTokensPerDay, at: now)
      clients[client] = counters
    }
  }

  /// What `client` has used against `kind` now: the current window's count, or the streams in flight.
  public func usage(client: String, _ kind: ClientLimitKind) -> Int {
    let now = clock()
    return state.withLock { clients in
      guard let counters = clients[client] else { return 0 }
      return kind.window == nil ? counters.streams : counters.count(kind, at: now)
    }
  }
}

extension ClientLimiter.Refusal {
  /// The 429 `RESOURCE_EXHAUSTED` a client over this limit gets, with `ErrorInfo` and `RetryInfo` details.
  func error(client: String) -> GeminiError {
    let delay = "\(retryAfterSeconds)s"
    return GeminiError(
      .resourceExhausted,
      message: "Quota exceeded for client '\(client)': \(kind.rawValue) = \(limit). Please retry in \(delay).",
      details: [
        GeminiError.errorInfo(
          reason: "CLIENT_LIMIT_EXCEEDED",
          metadata: [("client", client), ("limit", kind.rawValue), ("value", String(limit))]),
        .object([
          JSONMember("@type", "type.googleapis.com/google.rpc.RetryInfo"), JSONMember("retryDelay", .string(delay)),
        ]),
      ])
  }
}

extension Exchange {
  /// Forwards when the client is within its limits, counting the request, its tokens and its stream slot;
  /// answers 429 `RESOURCE_EXHAUSTED` with the retry delay otherwise. Both fronts call it after routing.
  mutating func forwardWithinLimits(_ forwarding: inout Forwarding, client index: Int?) async {
    guard let index, snapshot.table.clients.indices.contains(index) else {
      await forward(&forwarding)
      return
    }
    let client = snapshot.table.clients[index]
    switch limiter.admit(client: client.name, limits: client.limits, stream: forwarding.stream) {
    case .refused(let refusal):
      // The OpenAI front's `fail` sets Retry-After from the RetryInfo itself.
      await fail(
        refusal.error(client: client.name),
        headers: front == .gemini ? [("retry-after", String(refusal.retryAfterSeconds))] : [])
    case .admitted(let ticket):
      // `forward` returns on every path, the client gone included, so the slot is always given back.
      await forward(&forwarding)
      limiter.finish(ticket, inputTokens: record.inputTokens, outputTokens: record.outputTokens)
    }
  }
}
