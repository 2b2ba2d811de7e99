/// One upstream connection's HTTP/1.1 client logic as a pure state machine: it takes events (connected,
/// request written, bytes read, end of input, a deadline, the consumer pausing or leaving) and returns
/// the actions its socket shell carries out (deliver the head or body, fail the exchange, go back to the
/// pool, retry on a fresh connection, close, arm a deadline, change what the socket waits for).
///
/// It owns response parsing (`HTTPResponseParser`), keep-alive, the rule that a reused connection which
/// fails before any answer byte is retried once on a fresh one, and the exchange's deadlines
/// (`UpstreamDeadlines`). No I/O, no clock: every event carries `now`. Tested without sockets in
/// `UpstreamConnectionMachineTests`.
struct UpstreamConnectionMachine {
  /// What the shell must do, in order.
  enum Action: Equatable {
    /// The answer's head arrived.
    case deliverHead(status: Int, headers: UpstreamHeaders)
    /// Body bytes arrived.
    case deliverBody([UInt8])
    /// The body ended cleanly.
    case finishBody
    /// The exchange fails with this error (head and body).
    case fail(UpstreamError)
    /// The request never reached the backend on this reused connection: start it again on a fresh one.
    case retryOnFreshConnection
    /// The exchange is over and the connection may carry another: back to the pool.
    case release
    /// Close the socket.
    case close
    /// Call `deadlineReached` at this instant (an earlier call is harmless: it re-arms).
    case deadline(MonotonicInstant)
    /// Wait for readability (`read`) and writability (`write`).
    case interest(read: Bool, write: Bool)
  }

  private var deadlines: UpstreamDeadlines?
  private var parser = HTTPResponseParser()
  /// The parser's events of one read, emptied after each and kept with its room: no array allocated per read.
  private var events: [HTTPResponseParser.Event] = []
  private var connecting: Bool
  private var reused = false
  private var requestWritten = false
  /// The socket refused part of the request (EAGAIN): wait for writability. Until then the shell writes
  /// at once, so a request that fits the socket buffer costs no `epoll_ctl` before or after it.
  private var writeBlocked = false
  private var headReceived = false
  private var keepAlive = true
  private var paused = false
  private var lastActivity: MonotonicInstant
  private(set) var isClosed = false

  /// A connection whose `connect` returned at once (`connecting == false`) or is in progress.
  init(connecting: Bool, now: MonotonicInstant) {
    self.connecting = connecting
    lastActivity = now
  }

  /// True while an exchange runs on the connection.
  var isBusy: Bool { deadlines != nil }

  /// True until a non-blocking connect has finished.
  var isConnecting: Bool { connecting }

  /// True when the shell should read now (not paused by the consumer, connected).
  var readsNow: Bool { !paused && !connecting && !isClosed }

  private var stage: UpstreamDeadlines.Stage {
    if connecting { return .connecting }
    if !headReceived { return .awaitingHead }
    return .receiving(lastActivity: lastActivity, paused: paused)
  }

  private var interest: Action {
    .interest(read: !paused && !connecting, write: connecting || (isBusy && !requestWritten && writeBlocked))
  }

  // MARK: events

  /// An exchange starts on this connection (fresh, or `reused` from the pool); its request is queued.
  mutating func attach(_ deadlines: UpstreamDeadlines, reused: Bool, now: MonotonicInstant) -> [Action] {
    // The deadline and the interest in one allocation.
    var actions: [Action] = []
    actions.reserveCapacity(2)
    attach(deadlines, reused: reused, now: now, into: &actions)
    return actions
  }

  /// ``attach(_:reused:now:)``, its actions appended to `actions`.
  mutating func attach(
    _ deadlines: UpstreamDeadlines, reused: Bool, now: MonotonicInstant, into actions: inout [Action]
  ) {
    self.deadlines = deadlines
    self.reused = reused
    parser = HTTPResponseParser()
    requestWritten = false
    writeBlocked = false
    headReceived = false
    keepAlive = true
    paused = false
    lastActivity = now
    checkDeadlines(now: now, into: &actions)
    actions.append(interest)
  }

  /// A non-blocking connect finished, with `error` or not.
  mutating func connected(error: String?, now: MonotonicInstant) -> [Action] {
    connecting = false
    if let error { return failExchange(.connectFailed(error)) }
    return [interest]
  }

  /// The socket took only part of the request: the rest waits for writability.
  mutating func requestWriteBlocked() -> [Action] {
    writeBlocked = true
    return [interest]
  }

  /// The whole request has been written.
  mutating func requestSent() -> [Action] {
    var actions: [Action] = []
    requestSent(into: &actions)
    return actions
  }

  /// ``requestSent()``, its actions appended to `actions`.
  mutating func requestSent(into actions: inout [Action]) {
    requestWritten = true
    writeBlocked = false
    actions.append(interest)
  }

  /// Writing or reading failed (reset, broken pipe).
  mutating func socketFailed(_ detail: String) -> [Action] {
    retryOrFail(.connectionReset(detail))
  }

  /// Bytes arrived.
  mutating func received(_ bytes: some Collection<UInt8>, now: MonotonicInstant) -> [Action] {
    var actions: [Action] = []
    received(bytes, now: now, into: &actions)
    return actions
  }

  /// ``received(_:now:)``, its actions appended to `actions`.
  mutating func received(_ bytes: some Collection<UInt8>, now: MonotonicInstant, into actions: inout [Action]) {
    // An idle pooled connection must stay silent: anything it says makes it unusable.
    guard isBusy else {
      actions += close()
      return
    }
    lastActivity = now
    // Taken out while in use, so that the buffer stays unique and keeps its room.
    var events: [HTTPResponseParser.Event] = []
    swap(&events, &self.events)
    parser.feed(bytes, into: &events)
    deliver(events, now: now, into: &actions)
    events.removeAll(keepingCapacity: true)
    swap(&events, &self.events)
  }

  /// The backend closed its side.
  mutating func endOfInput(now: MonotonicInstant) -> [Action] {
    guard isBusy else { return close() }
    if parser.isAtStart { return retryOrFail(.connectionReset("the backend closed the connection without answering")) }
    var actions = deliver(parser.endOfStream(), now: now)
    if !isClosed { actions += close() }
    return actions
  }

  /// A deadline armed by `.deadline` is due.
  mutating func deadlineReached(now: MonotonicInstant) -> [Action] {
    checkDeadlines(now: now)
  }

  /// The consumer's buffer is full (true) or has room again (false).
  mutating func setPaused(_ pause: Bool, now: MonotonicInstant) -> [Action] {
    guard isBusy, !isClosed, paused != pause else { return [] }
    paused = pause
    // The backend's silence while we did not read is ours: the idle deadline restarts.
    if !pause { lastActivity = now }
    return [interest] + checkDeadlines(now: now)
  }

  /// The consumer went away.
  mutating func cancel() -> [Action] {
    guard isBusy, !isClosed else { return [] }
    return failExchange(.cancelled)
  }

  /// The loop is stopping.
  mutating func shutDown() -> [Action] {
    isBusy ? failExchange(.cancelled) : close()
  }

  // MARK: internals

  private mutating func deliver(_ events: [HTTPResponseParser.Event], now: MonotonicInstant) -> [Action] {
    var actions: [Action] = []
    // Head, deadline, body, end, release and interest: one allocation instead of a growth per append.
    actions.reserveCapacity(events.count + 4)
    deliver(events, now: now, into: &actions)
    return actions
  }

  private mutating func deliver(
    _ events: [HTTPResponseParser.Event], now: MonotonicInstant, into actions: inout [Action]
  ) {
    for event in events {
      switch event {
      case .head(let status, let headers, let keepAlive):
        self.keepAlive = keepAlive
        headReceived = true
        actions.append(.deliverHead(status: status, headers: headers))
        // From now on the idle deadline applies, which may come before the first-byte one.
        checkDeadlines(now: now, into: &actions)
      case .body(let bytes):
        actions.append(.deliverBody(bytes))
      case .end:
        actions.append(.finishBody)
        deadlines = nil
        if keepAlive {
          actions.append(.release)
          actions.append(interest)
        } else {
          actions += close()
        }
        return
      case .error(let message):
        actions += failExchange(.invalidResponse(message))
        return
      }
    }
  }

  private mutating func checkDeadlines(now: MonotonicInstant) -> [Action] {
    var actions: [Action] = []
    checkDeadlines(now: now, into: &actions)
    return actions
  }

  private mutating func checkDeadlines(now: MonotonicInstant, into actions: inout [Action]) {
    guard let deadlines, !isClosed else { return }
    switch deadlines.check(stage, now: now) {
    case .expired(let timeout): actions += failExchange(.timedOut(phase: timeout))
    case .checkAgain(let instant): actions.append(.deadline(instant))
    }
  }

  private mutating func retryOrFail(_ error: UpstreamError) -> [Action] {
    guard isBusy, reused, parser.isAtStart else { return failExchange(error) }
    deadlines = nil
    return [.retryOnFreshConnection] + close()
  }

  private mutating func failExchange(_ error: UpstreamError) -> [Action] {
    let wasBusy = isBusy
    deadlines = nil
    return (wasBusy ? [.fail(error)] : []) + close()
  }

  private mutating func close() -> [Action] {
    guard !isClosed else { return [] }
    isClosed = true
    deadlines = nil
    return [.close]
  }
}
