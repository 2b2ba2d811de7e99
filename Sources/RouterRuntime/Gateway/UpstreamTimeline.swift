import Synchronization

/// One upstream exchange as timed by ``UpstreamTimeline/send(_:through:backend:)``.
struct UpstreamTiming: Sendable, Equatable {
  /// The backend the transport serves.
  let backend: String
  /// When the request was handed to the transport.
  let sent: MonotonicInstant
  /// When the answer's head arrived (its first byte); nil when the exchange failed before.
  let answered: MonotonicInstant?
  /// When the answer's body ended, the exchange failed, or (for a body still open) the request ended.
  let ended: MonotonicInstant
}

/// The upstream exchanges of one request: each request's ``Exchange`` owns one and sends every hop through
/// ``send(_:through:backend:)`` (hops run one after another on the request's task, so the lock is never
/// contended). Every transport, for every front, is timed in that one place.
final class UpstreamTimeline: Sendable {
  private struct Entry {
    let backend: String
    let sent: MonotonicInstant
    let answered: MonotonicInstant?
    /// The failure's instant, or nil while the body may still be read.
    let failed: MonotonicInstant?
    let body: UpstreamBody?
  }

  /// The entries in order: the first apart, as most requests make one exchange and an array of one would be an
  /// allocation of its own.
  private struct Entries {
    var first: Entry?
    var more: [Entry] = []

    var count: Int { first == nil ? 0 : 1 + more.count }

    mutating func append(_ entry: Entry) {
      if first == nil { first = entry } else { more.append(entry) }
    }

    /// Each entry made into `Element`, in order, in one array of its size.
    func map<Element>(_ transform: (Entry) -> Element) -> [Element] {
      guard let first else { return [] }
      var out: [Element] = []
      out.reserveCapacity(1 + more.count)
      out.append(transform(first))
      for entry in more { out.append(transform(entry)) }
      return out
    }
  }

  /// Bounded: a chain is short, but a hostile configuration must not grow this without limit.
  static let limit = 64
  private let entries = Mutex(Entries())

  /// Sends `request` through `transport`, noting when it was sent, when its head arrived (or it failed) and,
  /// through its body, when it ended: the upstream latency and how long the exchange stayed open.
  func send(_ request: UpstreamRequest, through transport: any UpstreamTransport, backend: String)
    async throws(UpstreamError) -> UpstreamResponse
  {
    let sent = MonotonicInstant.now
    do {
      let response = try await transport.send(request)
      answered(backend: backend, sent: sent, at: .now, body: response.body)
      return response
    } catch {
      failed(backend: backend, sent: sent, at: .now)
      throw error
    }
  }

  /// Notes an exchange whose head arrived; its end is the body's.
  private func answered(backend: String, sent: MonotonicInstant, at: MonotonicInstant, body: UpstreamBody) {
    add(Entry(backend: backend, sent: sent, answered: at, failed: nil, body: body))
  }

  /// Notes an exchange that failed before any answer.
  private func failed(backend: String, sent: MonotonicInstant, at: MonotonicInstant) {
    add(Entry(backend: backend, sent: sent, answered: nil, failed: at, body: nil))
  }

  private func add(_ entry: Entry) {
    entries.withLock { entries in
      if entries.count < Self.limit { entries.append(entry) }
    }
  }

  /// The exchanges so far; a body still open counts as ending `now`.
  func timings(now: MonotonicInstant) -> [UpstreamTiming] {
    entries.withLock { $0.map { Self.timing($0, now: now) } }
  }

  /// The exchanges so far as the request record keeps them (``timings(now:)`` made into records, without the
  /// array between).
  func exchanges(now: MonotonicInstant) -> [RequestRecord.UpstreamExchange] {
    entries.withLock { $0.map { RequestRecord.UpstreamExchange(Self.timing($0, now: now)) } }
  }

  private static func timing(_ entry: Entry, now: MonotonicInstant) -> UpstreamTiming {
    UpstreamTiming(
      backend: entry.backend, sent: entry.sent, answered: entry.answered,
      ended: entry.failed ?? entry.body?.endedAt ?? now)
  }
}
