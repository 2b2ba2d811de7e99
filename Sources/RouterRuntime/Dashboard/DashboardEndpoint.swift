public import RouteCompiler
import RouteSpec
import Synchronization

/// Server-sent events as the dashboard writes them.
enum DashboardSSE {
  /// One event: its name, then one `data:` line per line of `data` (CR, LF and CRLF all end a line, so no
  /// text can end the event early or forge a field), then the blank line that ends it.
  static func event(_ name: String, data: String) -> [UInt8] {
    var out = "event: \(name)\n"
    var line = ""
    var previousWasCR = false
    for scalar in data.unicodeScalars {
      if scalar == "\n", previousWasCR {
        previousWasCR = false
        continue
      }
      previousWasCR = scalar == "\r"
      if scalar == "\n" || scalar == "\r" {
        out += "data: \(line)\n"
        line = ""
      } else {
        line.unicodeScalars.append(scalar)
      }
    }
    out += "data: \(line)\n\n"
    return Array(out.utf8)
  }

  /// The reconnection delay a browser's `EventSource` uses once the stream ends.
  static func retry(milliseconds: Int) -> [UInt8] { Array("retry: \(max(0, milliseconds))\n\n".utf8) }
}

/// The dashboard's event streams: how many may run at once, how often they send, how long each lasts, and
/// the switch that ends them all when the server drains.
public final class DashboardStreams: Sendable {
  /// Streams at once; one more is refused with 503.
  public let limit: Int
  /// Time between two snapshots.
  public let interval: Duration
  /// Snapshots per stream: then it ends, and the browser reconnects (bounding every stream's life).
  public let eventsPerStream: Int

  private struct State {
    var active = 0
    var stopped = false
    var nextWaiter: UInt64 = 0
    var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
  }

  private let state = Mutex(State())

  /// Streams of at most `limit` at once, one snapshot per `interval`, `eventsPerStream` snapshots each.
  public init(limit: Int = 8, interval: Duration = .seconds(1), eventsPerStream: Int = 300) {
    self.limit = max(1, limit)
    self.interval = interval
    self.eventsPerStream = max(1, eventsPerStream)
  }

  /// Streams running now.
  public var active: Int { state.withLock { $0.active } }

  /// Takes a place for one stream; false at the limit or once stopped. A place taken is given back by `leave`.
  func admit() -> Bool {
    state.withLock { state in
      guard !state.stopped, state.active < limit else { return false }
      state.active += 1
      return true
    }
  }

  func leave() {
    state.withLock { $0.active -= 1 }
  }

  /// Ends every stream at its next pause and refuses new ones: the server is draining.
  public func stop() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.stopped = true
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Waits one `interval` without holding a thread (a timer on the caller's reactor); returns early when
  /// stopped or when the task is cancelled (the client went away). True when the stream may go on.
  func pause() async -> Bool {
    let id = state.withLock { state -> UInt64 in
      state.nextWaiter &+= 1
      return state.nextWaiter
    }
    let deadline = MonotonicInstant.now.advanced(by: interval)
    let reactor = Reactor.currentOrShared
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let parked = state.withLock { state -> Bool in
          guard !state.stopped, !Task.isCancelled else { return false }
          state.waiters[id] = continuation
          return true
        }
        guard parked else {
          continuation.resume()
          return
        }
        reactor.execute { [self] in _ = reactor.schedule(at: deadline) { self.wake(id) } }
      }
    } onCancel: {
      wake(id)
    }
    return !Task.isCancelled && !state.withLock { $0.stopped }
  }

  private func wake(_ id: UInt64) {
    state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
  }

  /// Runs one stream to `sink`: the head, a retry hint, then a snapshot per interval until the stream's
  /// events are spent, the server drains or the client goes away. False when refused (at the limit).
  func run(to sink: some StreamSink, snapshot: () -> JSONValue) async -> Bool {
    guard admit() else { return false }
    defer { leave() }
    do {
      try await sink.startStream(
        status: 200,
        headers: [
          ("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-store"),
          ("x-accel-buffering", "no"),
        ])
      try await sink.write(DashboardSSE.retry(milliseconds: 1000))
      for sent in 1...eventsPerStream {
        try await sink.write(DashboardSSE.event("snapshot", data: snapshot().serialized()))
        if sent == eventsPerStream { break }
        guard await pause() else { break }
      }
      try await sink.finish()
    } catch {
      // The client went away: nothing more to write.
    }
    return true
  }
}

/// Answers `GET /dashboard` (the page) and `GET /dashboard/events` (its live snapshots) under the same access
/// rule as `/metrics` (see ``EndpointRouter``, which also shows every other request as in flight here).
public struct DashboardEndpoint: HTTPEndpoint {
  /// The page's path.
  public static let path = "/dashboard"
  /// The event stream's path.
  public static let eventsPath = "/dashboard/events"

  let dashboard: Dashboard
  let streams: DashboardStreams
  let loopback: Bool
  let server: @Sendable () -> ServerSettings

  /// Serves `dashboard`; `loopback` and `server` decide access as for `/metrics`.
  public init(
    dashboard: Dashboard, streams: DashboardStreams, loopback: Bool, server: @escaping @Sendable () -> ServerSettings
  ) {
    self.dashboard = dashboard
    self.streams = streams
    self.loopback = loopback
    self.server = server
  }

  public func claims(_ request: HTTPRequest) -> Bool {
    request.path == Self.path || request.path == Self.eventsPath
  }

  /// Answers the page or its event stream, or the refusal `MetricsAccess` decides.
  public func answer(_ request: HTTPRequest, responder: HTTPResponder) async {
    let access = MetricsAccess.decide(key: Exchange.presentedKey(request), server: server(), loopback: loopback)
    if let refusal = MetricsAccess.refusal(method: request.method, access: access, path: request.path) {
      try? await responder.respond(status: refusal.status, headers: refusal.headers, body: refusal.body)
      return
    }
    if request.path == Self.path {
      try? await responder.respond(
        status: 200,
        headers: [
          ("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
          // The page is self-contained: nothing but its own inline script and style, and its own events.
          (
            "content-security-policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"
          ),
          ("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer"),
        ],
        body: Array(DashboardPage.html.utf8))
      return
    }
    let dashboard = self.dashboard
    if !(await streams.run(to: responder, snapshot: { dashboard.snapshot() })) {
      try? await responder.respond(
        status: 503,
        headers: [("content-type", "text/plain; charset=utf-8"), ("retry-after", "5"), ("cache-control", "no-store")],
        body: Array("louter: too many dashboard streams (at most \(streams.limit)), or the server is draining\n".utf8))
    }
  }
}
