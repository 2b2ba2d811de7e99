import Synchronization

/// One upstream exchange as timed by ``TimedTransport``.
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

/// The upstream exchanges of one request, collected by the transports it used.
///
/// The gateway binds one to ``current`` for the request's handler task; ``TimedTransport`` adds to it from
/// that task (hops run one after another, so the lock is never contended). Keeping this out of the hop code
/// lets every transport, for every front, be timed in one place.
final class UpstreamTimeline: Sendable {
  /// The timeline of the request whose task is running, if any.
  @TaskLocal static var current: UpstreamTimeline?

  private struct Entry {
    let backend: String
    let sent: MonotonicInstant
    let answered: MonotonicInstant?
    /// The failure's instant, or nil while the body may still be read.
    let failed: MonotonicInstant?
    let body: UpstreamBody?
  }

  /// Bounded: a chain is short, but a hostile configuration must not grow this without limit.
  static let limit = 64
  private let entries = Mutex<[Entry]>([])

  /// Notes an exchange whose head arrived; its end is the body's.
  func answered(backend: String, sent: MonotonicInstant, at: MonotonicInstant, body: UpstreamBody) {
    add(Entry(backend: backend, sent: sent, answered: at, failed: nil, body: body))
  }

  /// Notes an exchange that failed before any answer.
  func failed(backend: String, sent: MonotonicInstant, at: MonotonicInstant) {
    add(Entry(backend: backend, sent: sent, answered: nil, failed: at, body: nil))
  }

  private func add(_ entry: Entry) {
    entries.withLock { entries in
      if entries.count < Self.limit { entries.append(entry) }
    }
  }

  /// The exchanges so far; a body still open counts as ending `now`.
  func timings(now: MonotonicInstant) -> [UpstreamTiming] {
    entries.withLock { $0 }.map { entry in
      UpstreamTiming(
        backend: entry.backend, sent: entry.sent, answered: entry.answered,
        ended: entry.failed ?? entry.body?.endedAt ?? now)
    }
  }
}

/// A transport that times each exchange into the running request's ``UpstreamTimeline`` (nothing when the
/// task has none): the upstream latency (to the answer's head) and how long the exchange stayed open.
struct TimedTransport: UpstreamTransport {
  let inner: any UpstreamTransport
  let backend: String

  func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    guard let timeline = UpstreamTimeline.current else { return try await inner.send(request) }
    let sent = MonotonicInstant.now
    do {
      let response = try await inner.send(request)
      timeline.answered(backend: backend, sent: sent, at: .now, body: response.body)
      return response
    } catch {
      timeline.failed(backend: backend, sent: sent, at: .now)
      throw error
    }
  }
}
