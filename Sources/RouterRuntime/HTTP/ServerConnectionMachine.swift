import RouteSpec

/// One client connection's HTTP/1.1 logic as a pure state machine: it takes events (bytes read, the peer
/// closed, a deadline passed, the server drains, the handler answered) and returns the actions its socket
/// shell carries out (write, start or cancel the handler, pause reading, close, arm a deadline).
///
/// It owns request parsing (`HTTPRequestParser`), pipelining (bytes that arrive while a handler runs wait
/// here, and reading pauses past `maxHeadBytes` of them), the response's framing (head, chunked or
/// close-delimited body, keep-alive) and the connection's deadlines (`ConnectionDeadline`). It performs no
/// I/O and reads no clock: every event carries `now`. Tested without sockets in `ServerConnectionMachineTests`.
struct ServerConnectionMachine {
  /// What the shell must do, in order.
  enum Action {
    /// Queue these bytes for the socket.
    case write([UInt8])
    /// Run the handler for this request; its calls name `id`, so that a handler whose answer has ended
    /// can never touch the next request's.
    case startHandler(HTTPRequest, id: UInt64)
    /// The client went away: cancel the handler's task.
    case cancelHandler
    /// The response in flight has ended (the request no longer counts as active).
    case responseEnded
    /// Stop reading (too much pipelined input waits); the peer's hang-up is still watched.
    case pauseReading
    /// Read again.
    case resumeReading
    /// Close once everything queued has been written.
    case closeAfterWriting
    /// Close now, dropping anything unsent.
    case closeNow
    /// Call `deadlineReached` at this instant (an earlier call is harmless: it re-arms).
    case deadline(MonotonicInstant)
  }

  /// Where the response to the request in flight is.
  private enum Response: Equatable {
    case awaitingHead
    case streaming(chunked: Bool)
  }

  /// The request being answered.
  private struct InFlight {
    let id: UInt64
    let version: HTTPVersion
    var keepAlive: Bool
    var response: Response
  }

  let configuration: HTTPServerConfiguration
  private var parser: HTTPRequestParser
  /// Requests parsed and waiting for the one in flight (pipelining).
  private var ready: [HTTPRequest] = []
  /// Bytes read while a request was in flight, parsed once it has been answered.
  private var pending: [UInt8] = []
  private var inFlight: InFlight?
  /// A last answer is queued; nothing more is read or answered.
  private var closing = false
  /// The server is shutting down: the answer in flight is the connection's last.
  private var draining = false
  private var readingPaused = false
  private var requestsStarted: UInt64 = 0
  private(set) var deadline: ConnectionDeadline

  /// The id of the request being answered, if any.
  var requestInFlight: UInt64? { inFlight?.id }

  /// A connection accepted at `now`; its first deadline is `deadline.expiry`.
  init(configuration: HTTPServerConfiguration, acceptedAt now: MonotonicInstant) {
    self.configuration = configuration
    parser = HTTPRequestParser(
      maxHeadBytes: configuration.maxHeadBytes, maxHeaders: configuration.maxHeaders,
      maxBodyBytes: configuration.maxBodyBytes)
    deadline = .accepted(at: now, configuration)
  }

  /// What the connection waits for now.
  var phase: ConnectionPhase {
    ConnectionPhase(handling: inFlight != nil, closing: closing, parser: parser.progress)
  }

  // MARK: events from the socket and the clock

  /// Bytes arrived from the client.
  mutating func received(_ bytes: some Collection<UInt8>, now: MonotonicInstant) -> [Action] {
    if closing { return [] }
    if inFlight != nil || !ready.isEmpty {
      pending.append(contentsOf: bytes)
      if pending.count > configuration.maxHeadBytes, !readingPaused {
        readingPaused = true
        return [.pauseReading]
      }
      return []
    }
    var actions: [Action] = []
    // A whole request starts its handler and moves the deadline: room for both in one allocation.
    actions.reserveCapacity(2)
    parse(bytes, now: now, into: &actions)
    return actions
  }

  /// The client closed its side or the socket failed: whatever it waited for is cancelled.
  mutating func peerClosed() -> [Action] {
    closing = true
    guard inFlight != nil else { return [.closeNow] }
    inFlight = nil
    // Counted as ended before the cancel, whose handlers may run at once and look.
    return [.responseEnded, .cancelHandler, .closeNow]
  }

  /// A deadline armed by `.deadline` is due.
  mutating func deadlineReached(now: MonotonicInstant) -> [Action] {
    switch deadline.verdict(at: now) {
    case .wait:
      return deadline.expiry.map { [.deadline($0)] } ?? []
    case .requestTimeout:
      var actions: [Action] = []
      fail(HTTPParseError(status: 408, message: "the request did not arrive in time"), now: now, into: &actions)
      return actions
    case .close:
      return [.closeNow]
    }
  }

  /// The server stops: an idle connection closes now, one with a request in flight or arriving closes
  /// after answering it.
  mutating func serverDraining() -> [Action] {
    draining = true
    if var flight = inFlight {
      if flight.response == .awaitingHead {
        flight.keepAlive = false
        inFlight = flight
      }
      return []
    }
    if !closing, ready.isEmpty, pending.isEmpty, parser.progress == .idle { return [.closeNow] }
    return []
  }

  // MARK: events from the handler

  /// A whole response with `Content-Length`.
  mutating func respond(
    status: Int, headers: [(String, String)], body: [UInt8], now: MonotonicInstant
  ) throws(HTTPResponderError) -> [Action] {
    guard let flight = inFlight, flight.response == .awaitingHead else {
      throw .invalidState("respond: a response was already started")
    }
    var bytes = Self.head(
      status: status, headers: headers, framing: .contentLength(body.count), version: flight.version,
      keepAlive: flight.keepAlive, reserving: body.count)
    bytes.append(contentsOf: body)
    var actions: [Action] = []
    // The write, the end, the next request or the deadline: one allocation, not a growth per append.
    actions.reserveCapacity(4)
    actions.append(.write(bytes))
    endResponse(close: !flight.keepAlive, now: now, into: &actions)
    return actions
  }

  /// The head of a streamed response: chunked on HTTP/1.1, close-delimited on HTTP/1.0.
  mutating func startStream(status: Int, headers: [(String, String)]) throws(HTTPResponderError) -> [Action] {
    guard var flight = inFlight, flight.response == .awaitingHead else {
      throw .invalidState("startStream: a response was already started")
    }
    let chunked = flight.version == .http11
    flight.response = .streaming(chunked: chunked)
    inFlight = flight
    return [
      .write(
        Self.head(
          status: status, headers: headers, framing: chunked ? .chunked : .closeDelimited,
          version: flight.version, keepAlive: flight.keepAlive))
    ]
  }

  /// One piece of a streamed body.
  func streamChunk(_ bytes: [UInt8]) throws(HTTPResponderError) -> [Action] {
    guard case .streaming(let chunked)? = inFlight?.response else {
      throw .invalidState("write before startStream or after finish")
    }
    if bytes.isEmpty { return [] }
    guard chunked else { return [.write(bytes)] }
    var framed: [UInt8] = []
    // Size digits (at most 16), CRLF, the piece, CRLF: one allocation.
    framed.reserveCapacity(bytes.count + 20)
    framed.append(hexadecimal: bytes.count)
    framed.append(literal: "\r\n")
    bytes.withUnsafeBytes { framed.append(bytes: $0) }
    framed.append(literal: "\r\n")
    return [.write(framed)]
  }

  /// The end of a streamed body.
  mutating func finishStream(now: MonotonicInstant) throws(HTTPResponderError) -> [Action] {
    guard let flight = inFlight, case .streaming(let chunked) = flight.response else {
      throw .invalidState("finish without startStream")
    }
    var actions: [Action] = chunked ? [.write(Array("0\r\n\r\n".utf8))] : []
    endResponse(close: !flight.keepAlive || !chunked, now: now, into: &actions)
    return actions
  }

  /// The response fails: what was queued is sent, then the connection closes without the final chunk, so
  /// the client sees a broken answer rather than a complete one.
  mutating func abort() -> [Action] {
    guard inFlight != nil else { return [] }
    inFlight = nil
    closing = true
    return [.responseEnded, .closeAfterWriting]
  }

  /// The handler returned: one that never answered gets a 500, an unfinished stream is aborted.
  mutating func handlerReturned(now: MonotonicInstant) -> [Action] {
    switch inFlight?.response {
    case .awaitingHead?:
      let body = GeminiError.internal("the handler sent no response").bodyBytes
      return (try? respond(status: 500, headers: [("content-type", "application/json")], body: body, now: now)) ?? []
    case .streaming?:
      return abort()
    case nil:
      return []
    }
  }

  // MARK: internals

  private mutating func parse(
    _ bytes: some Collection<UInt8>, now: MonotonicInstant, into actions: inout [Action]
  ) {
    var events = HTTPRequestParser.Events()
    parser.feed(bytes, into: &events)
    for event in events {
      switch event {
      case .expectContinue:
        actions.append(.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)))
      case .request(let request):
        ready.append(request)
      case .error(let error):
        fail(error, now: now, into: &actions)
        return
      }
    }
    startNext(into: &actions)
    moveDeadline(now: now, into: &actions)
  }

  private mutating func startNext(into actions: inout [Action]) {
    guard inFlight == nil, !closing, !ready.isEmpty else { return }
    var request = ready.removeFirst()
    if draining { request.keepAlive = false }
    requestsStarted += 1
    inFlight = InFlight(
      id: requestsStarted, version: request.version, keepAlive: request.keepAlive, response: .awaitingHead)
    actions.append(.startHandler(request, id: requestsStarted))
  }

  private mutating func endResponse(close: Bool, now: MonotonicInstant, into actions: inout [Action]) {
    inFlight = nil
    actions.append(.responseEnded)
    if close || draining {
      closing = true
      actions.append(.closeAfterWriting)
      moveDeadline(now: now, into: &actions)
      return
    }
    startNext(into: &actions)
    if inFlight == nil, !pending.isEmpty {
      let input = pending
      pending = []
      if readingPaused {
        readingPaused = false
        actions.append(.resumeReading)
      }
      parse(input, now: now, into: &actions)
      return
    }
    moveDeadline(now: now, into: &actions)
  }

  private mutating func fail(_ error: HTTPParseError, now: MonotonicInstant, into actions: inout [Action]) {
    actions.append(.write(Self.errorResponse(error)))
    closing = true
    actions.append(.closeAfterWriting)
    moveDeadline(now: now, into: &actions)
  }

  /// Moves the deadline along with the phase (a phase the connection stays in keeps its deadline).
  private mutating func moveDeadline(now: MonotonicInstant, into actions: inout [Action]) {
    let next = deadline.entering(phase, at: now, configuration)
    guard next != deadline else { return }
    deadline = next
    if let expiry = next.expiry { actions.append(.deadline(expiry)) }
  }

  /// How a response's body is delimited, which names its framing header.
  enum BodyDelimiting {
    case contentLength(Int)
    case chunked
    /// HTTP/1.0 streams: the body ends when the connection closes.
    case closeDelimited
  }

  /// A response head: status line, the handler's headers, the framing header and the connection header,
  /// written straight into one buffer with room for `reserving` more bytes (the body that follows).
  static func head(
    status: Int, headers: [(String, String)], framing: BodyDelimiting, version: HTTPVersion, keepAlive: Bool,
    reserving bodyCount: Int = 0
  ) -> [UInt8] {
    var bytes: [UInt8] = []
    var size = 96 + bodyCount
    for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
    bytes.reserveCapacity(size)
    // Every piece in one copy (literals from their bytes, numbers digit by digit): a head is written per answer.
    if status == 200 {
      // Nearly every answer's status line, in one copy (a test pins it to the composed one).
      bytes.append(literal: version == .http11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n")
    } else {
      bytes.append(literal: version == .http11 ? "HTTP/1.1 " : "HTTP/1.0 ")
      bytes.append(decimal: status)
      bytes.append(0x20)
      bytes.append(utf8: HTTPStatus.reason(status))
      bytes.append(literal: "\r\n")
    }
    for (name, value) in headers { HTTPFraming.appendFieldLine(name: name, value: value, to: &bytes) }
    switch framing {
    case .contentLength(let count):
      bytes.append(literal: "content-length: ")
      bytes.append(decimal: count)
      bytes.append(literal: "\r\n")
    case .chunked: bytes.append(literal: "transfer-encoding: chunked\r\n")
    case .closeDelimited: break
    }
    if !keepAlive {
      bytes.append(literal: "connection: close\r\n")
    } else if version == .http10 {
      bytes.append(literal: "connection: keep-alive\r\n")
    }
    bytes.append(literal: "\r\n")
    return bytes
  }

  /// The whole answer to a request that failed to parse or arrive: a Gemini error body, then close.
  static func errorResponse(_ error: HTTPParseError) -> [UInt8] {
    let body = error.geminiError.bodyBytes
    var bytes = head(
      status: error.status, headers: [("content-type", "application/json")],
      framing: .contentLength(body.count), version: .http11, keepAlive: false, reserving: body.count)
    bytes += body
    return bytes
  }
}

/// What a connection waits for, which decides its deadline.
enum ConnectionPhase: Sendable, Equatable {
  /// Between requests, or before the first byte: closed quietly when the deadline passes.
  case idle
  /// Part of a request head arrived: 408 when the deadline passes.
  case head
  /// The head arrived, not yet the whole body: 408 when the deadline passes.
  case body
  /// A handler is answering: no deadline here (the gateway has its own).
  case handling
  /// A last answer is being sent before the connection closes: closed when the deadline passes.
  case closing

  /// The phase of a connection whose handler runs (`handling`), which closes after sending what it has
  /// (`closing`), and whose parser is at `parser`.
  init(handling: Bool, closing: Bool, parser: HTTPRequestParser.Progress) {
    if handling {
      self = .handling
    } else if closing {
      self = .closing
    } else {
      switch parser {
      case .idle: self = .idle
      case .head: self = .head
      case .body: self = .body
      }
    }
  }
}

/// A connection's deadline: it starts when the connection enters a phase and stays while it remains there,
/// so bytes trickling in never extend it. The head has `headTimeout` from its first byte, the body
/// `bodyTimeout` from the end of the head, an idle connection `idleTimeout` from the end of the last response.
struct ConnectionDeadline: Sendable, Equatable {
  /// What to do about a connection whose deadline passed.
  enum Verdict: Sendable, Equatable {
    case wait
    /// Answer 408 and close.
    case requestTimeout
    /// Close without an answer.
    case close
  }

  let phase: ConnectionPhase
  /// When the phase's time runs out; nil while a handler runs.
  let expiry: MonotonicInstant?

  /// A new connection: idle, but with `headTimeout` to send its first byte.
  static func accepted(at now: MonotonicInstant, _ configuration: HTTPServerConfiguration) -> Self {
    Self(phase: .idle, expiry: now.advanced(by: configuration.headTimeout))
  }

  /// The deadline once the connection is in `phase` at `now`: unchanged if it already was.
  func entering(
    _ phase: ConnectionPhase, at now: MonotonicInstant, _ configuration: HTTPServerConfiguration
  ) -> Self {
    if phase == self.phase { return self }
    let timeout: Duration? =
      switch phase {
      case .idle, .closing: configuration.idleTimeout
      case .head: configuration.headTimeout
      case .body: configuration.bodyTimeout
      case .handling: nil
      }
    return Self(phase: phase, expiry: timeout.map { now.advanced(by: $0) })
  }

  /// What to do at `now`.
  func verdict(at now: MonotonicInstant) -> Verdict {
    guard let expiry, expiry <= now else { return .wait }
    switch phase {
    case .head, .body: return .requestTimeout
    case .idle, .closing, .handling: return .close
    }
  }
}
