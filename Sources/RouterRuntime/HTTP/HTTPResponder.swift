import Synchronization

/// Errors a handler sees when writing a response.
public enum HTTPResponderError: Error, Sendable {
  /// The client went away (or the server is closing the connection).
  case connectionClosed
  /// The call does not fit the response's state (a second head, a write before the head).
  case invalidState(String)
}

/// The shared state between a response's writer (a handler task) and its connection (the loop thread).
final class ResponseChannel: Sendable {
  struct State {
    var unsent = 0
    /// The most bytes ever held unsent: what backpressure bounds.
    var peakUnsent = 0
    var closed = false
    /// The handler may write to the socket itself while nothing is queued in the loop for it.
    var directAllowed: Bool
    var waiter: CheckedContinuation<Void, any Error>?
  }

  let state: Mutex<State>
  let highWater: Int
  /// The connection's socket; written to directly only under `state`'s lock, which the loop also takes
  /// (to mark the channel closed) before it closes the descriptor.
  let fd: Int32

  init(highWater: Int, fd: Int32, directAllowed: Bool) {
    self.highWater = highWater
    self.fd = fd
    self.state = Mutex(State(directAllowed: directAllowed))
  }

  /// The loop sent `count` bytes of this response; wakes a waiting writer below half the high-water mark.
  func sent(_ count: Int) {
    let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
      state.unsent = max(0, state.unsent - count)
      guard state.unsent <= highWater / 2, let waiter = state.waiter else { return nil }
      state.waiter = nil
      return waiter
    }
    waiter?.resume()
  }

  /// The connection is gone: every present and future write fails.
  func close() {
    let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
      state.closed = true
      let waiter = state.waiter
      state.waiter = nil
      return waiter
    }
    waiter?.resume(throwing: HTTPResponderError.connectionClosed)
  }

  var isClosed: Bool { state.withLock { $0.closed } }
}

/// Writes one response: whole (`respond`) or streamed (`startStream`, `write`..., `finish`).
///
/// A streamed write suspends while the connection holds more unsent bytes than the high-water
/// mark, so a slow reader never makes louter buffer a whole stream.
public final class HTTPResponder: Sendable {
  enum Phase {
    case idle
    case streaming(chunked: Bool)
    case done
  }

  let connectionID: UInt64
  let loop: EventLoop
  let channel: ResponseChannel
  let version: HTTPVersion
  let keepAlive: Bool
  private let phase = Mutex(Phase.idle)

  init(connectionID: UInt64, loop: EventLoop, channel: ResponseChannel, version: HTTPVersion, keepAlive: Bool) {
    self.connectionID = connectionID
    self.loop = loop
    self.channel = channel
    self.version = version
    self.keepAlive = keepAlive
  }

  /// True once the client went away.
  public var isClosed: Bool { channel.isClosed }

  private func head(status: Int, headers: [(String, String)], framing: String) -> [UInt8] {
    var text = version == .http11 ? "HTTP/1.1 " : "HTTP/1.0 "
    text += "\(status) \(HTTPStatus.reason(status))\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    text += framing
    text += keepAlive ? (version == .http10 ? "connection: keep-alive\r\n" : "") : "connection: close\r\n"
    text += "\r\n"
    return Array(text.utf8)
  }

  private func enqueue(_ bytes: [UInt8], end: Bool, close: Bool) throws(HTTPResponderError) {
    let fd = channel.fd
    let remaining = channel.state.withLock { state -> ArraySlice<UInt8>? in
      if state.closed { return nil }
      var rest = bytes[...]
      // Nothing queued and the socket writable: send from this thread and skip a loop wake-up on the
      // latency path. The lock keeps the loop from closing the descriptor meanwhile.
      if state.unsent == 0, state.directAllowed, !bytes.isEmpty {
        let result = bytes.withUnsafeBytes { buffer in try? Posix.write(fd, from: buffer) }
        if case .done(let count)? = result { rest = bytes[count...] }
      }
      state.unsent += rest.count
      state.peakUnsent = max(state.peakUnsent, state.unsent)
      return rest
    }
    guard let remaining else { throw .connectionClosed }
    if !remaining.isEmpty || end || close {
      loop.submit(.write(connectionID, Array(remaining), endOfResponse: end, close: close))
    }
  }

  /// Sends a whole response with `Content-Length`.
  public func respond(status: Int, headers: [(String, String)], body: [UInt8]) async throws(HTTPResponderError) {
    try transition(from: "respond") { phase in
      guard case .idle = phase else { return false }
      phase = .done
      return true
    }
    var bytes = head(status: status, headers: headers, framing: "content-length: \(body.count)\r\n")
    bytes.append(contentsOf: body)
    try enqueue(bytes, end: true, close: !keepAlive)
  }

  /// Sends the head of a streamed response (chunked on HTTP/1.1, close-delimited on HTTP/1.0).
  public func startStream(status: Int, headers: [(String, String)]) async throws(HTTPResponderError) {
    let chunked = version == .http11
    try transition(from: "startStream") { phase in
      guard case .idle = phase else { return false }
      phase = .streaming(chunked: chunked)
      return true
    }
    let framing = chunked ? "transfer-encoding: chunked\r\n" : ""
    try enqueue(head(status: status, headers: headers, framing: framing), end: false, close: false)
  }

  /// Sends one chunk; waits while too much is unsent.
  public func write(_ bytes: [UInt8]) async throws(HTTPResponderError) {
    guard !bytes.isEmpty else { return }
    let chunked: Bool = try phase.withLock { phase throws(HTTPResponderError) -> Bool in
      guard case .streaming(let chunked) = phase else {
        throw .invalidState("write before startStream or after finish")
      }
      return chunked
    }
    var framed: [UInt8]
    if chunked {
      framed = Array(String(bytes.count, radix: 16).utf8)
      framed.append(contentsOf: [0x0D, 0x0A])
      framed.append(contentsOf: bytes)
      framed.append(contentsOf: [0x0D, 0x0A])
    } else {
      framed = bytes
    }
    try enqueue(framed, end: false, close: false)
    try await waitForRoom()
  }

  private func waitForRoom() async throws(HTTPResponderError) {
    do {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let resumeNow: Result<Void, HTTPResponderError>? = channel.state.withLock { state in
          if state.closed { return .failure(.connectionClosed) }
          if state.unsent <= channel.highWater { return .success(()) }
          state.waiter = continuation
          return nil
        }
        if let resumeNow { continuation.resume(with: resumeNow) }
      }
    } catch {
      throw .connectionClosed
    }
  }

  /// Ends a streamed response.
  public func finish() async throws(HTTPResponderError) {
    let chunked: Bool = try phase.withLock { phase throws(HTTPResponderError) -> Bool in
      guard case .streaming(let chunked) = phase else { throw .invalidState("finish without startStream") }
      phase = .done
      return chunked
    }
    try enqueue(chunked ? Array("0\r\n\r\n".utf8) : [], end: true, close: !keepAlive || !chunked)
  }

  /// Ends the response as a failure: the connection closes without the terminating chunk.
  public func abort() {
    phase.withLock { $0 = .done }
    loop.submit(.abort(connectionID))
  }

  /// Called when the handler returns: a handler that never answered gets a 500, an unfinished stream is ended.
  func handlerReturned() {
    let current = phase.withLock { $0 }
    switch current {
    case .idle:
      let body = GeminiError.internal("the handler sent no response").bodyBytes
      var bytes = head(
        status: 500, headers: [("content-type", "application/json")], framing: "content-length: \(body.count)\r\n")
      bytes += body
      phase.withLock { $0 = .done }
      try? enqueue(bytes, end: true, close: !keepAlive)
    case .streaming:
      abort()
    case .done:
      break
    }
  }

  private func transition(from call: String, _ body: (inout Phase) -> Bool) throws(HTTPResponderError) {
    guard phase.withLock({ body(&$0) }) else { throw .invalidState("\(call): a response was already started") }
  }
}
