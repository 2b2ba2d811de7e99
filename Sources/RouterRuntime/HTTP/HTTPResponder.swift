import Synchronization

/// Errors a handler sees when writing a response.
public enum HTTPResponderError: Error, Sendable {
  /// The client went away (or the server is closing the connection).
  case connectionClosed
  /// The call does not fit the response's state (a second head, a write before the head).
  case invalidState(String)
}

/// Writes one response: whole (`respond`) or streamed (`startStream`, `write`..., `finish`).
///
/// Each call is an event for the connection's state machine on its reactor: a handler running there (the
/// usual case, as handlers prefer their connection's reactor) calls it inline; any other thread hands it
/// over. A streamed write suspends while the connection holds more unsent bytes than the high-water mark,
/// so a slow reader never makes louter buffer a whole stream.
public final class HTTPResponder: Sendable {
  let connection: ServerConnection
  /// The request this responder answers, among those of its connection.
  let requestID: UInt64
  private let closed = Atomic<Bool>(false)

  init(connection: ServerConnection, requestID: UInt64) {
    self.connection = connection
    self.requestID = requestID
  }

  /// True once the client went away.
  public var isClosed: Bool { closed.load(ordering: .relaxed) }

  /// Called by the connection when it closes.
  func markClosed() { closed.store(true, ordering: .relaxed) }

  private func send(
    _ event:
      @escaping @Sendable (inout ServerConnectionMachine, MonotonicInstant) throws(HTTPResponderError) ->
      [ServerConnectionMachine.Action]
  ) async throws(HTTPResponderError) {
    let connection = self.connection
    let requestID = self.requestID
    let result = await connection.reactor.perform {
      connection.handlerCall(for: requestID) { machine throws(HTTPResponderError) in try event(&machine, .now) }
    }
    try result.get()
  }

  /// Sends a whole response with `Content-Length`.
  public func respond(status: Int, headers: [(String, String)], body: [UInt8]) async throws(HTTPResponderError) {
    try await send { machine, now throws(HTTPResponderError) in
      try machine.respond(status: status, headers: headers, body: body, now: now)
    }
  }

  /// Sends the head of a streamed response (chunked on HTTP/1.1, close-delimited on HTTP/1.0).
  public func startStream(status: Int, headers: [(String, String)]) async throws(HTTPResponderError) {
    let connection = self.connection
    try await send { machine, _ throws(HTTPResponderError) in
      let actions = try machine.startStream(status: status, headers: headers)
      connection.streamStarted()
      return actions
    }
  }

  /// Sends one chunk; waits while too much is unsent.
  public func write(_ bytes: [UInt8]) async throws(HTTPResponderError) {
    guard !bytes.isEmpty else { return }
    try await send { machine, _ throws(HTTPResponderError) in try machine.streamChunk(bytes) }
    let connection = self.connection
    let reactor = connection.reactor
    if reactor.isCurrent, !connection.mustWaitForRoom { return }
    await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
      if reactor.isCurrent {
        connection.waitForRoom(continuation)
      } else {
        reactor.execute { connection.waitForRoom(continuation) }
      }
    }
    if isClosed { throw .connectionClosed }
  }

  /// Ends a streamed response.
  public func finish() async throws(HTTPResponderError) {
    try await send { machine, now throws(HTTPResponderError) in try machine.finishStream(now: now) }
  }

  /// Ends the response as a failure: the connection closes without the terminating chunk.
  public func abort() {
    let connection = self.connection
    let requestID = self.requestID
    let event: @Sendable () -> Void = { _ = connection.handlerCall(for: requestID) { $0.abort() } }
    if connection.reactor.isCurrent {
      event()
    } else {
      connection.reactor.execute(event)
    }
  }

  /// The most bytes the connection ever held unsent (for tests of backpressure).
  func peakUnsent() async -> Int {
    let connection = self.connection
    return await connection.reactor.perform { connection.peakQueued }
  }

  /// How many `write` calls the connection has made on its socket (for tests of write coalescing).
  func socketWrites() async -> Int {
    let connection = self.connection
    return await connection.reactor.perform { connection.writeCalls }
  }

  /// Called when the handler returns: a handler that never answered gets a 500, an unfinished stream is ended.
  func handlerReturned() async {
    let connection = self.connection
    let requestID = self.requestID
    _ = await connection.reactor.perform { connection.handlerCall(for: requestID) { $0.handlerReturned(now: .now) } }
  }
}
