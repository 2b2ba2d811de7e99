import Synchronization

/// One request to a backend, with its deadlines.
public struct UpstreamRequest: Sendable {
  /// A header of the request.
  public struct Header: Sendable, Equatable {
    /// Name.
    public var name: String
    /// Value.
    public var value: String
  }

  /// `POST`, `GET`.
  public var method: String
  /// Absolute URL (`http://`, `https://`, or `echo://local/...` for the echo backend).
  public var url: String
  /// Headers to send.
  public var headers: [Header]
  /// The body.
  public var body: [UInt8]
  /// Deadline for the TCP (and TLS) connection.
  public var connectTimeout: Duration
  /// Deadline for the response head, from the start.
  public var firstByteTimeout: Duration
  /// Longest gap between two body chunks.
  public var streamIdleTimeout: Duration
  /// Deadline for the whole exchange.
  public var totalTimeout: Duration

  /// Creates a request.
  public init(
    method: String, url: String, headers: [(String, String)], body: [UInt8], connectTimeout: Duration,
    firstByteTimeout: Duration, streamIdleTimeout: Duration, totalTimeout: Duration
  ) {
    self.method = method
    self.url = url
    self.headers = headers.map { Header(name: $0.0, value: $0.1) }
    self.body = body
    self.connectTimeout = connectTimeout
    self.firstByteTimeout = firstByteTimeout
    self.streamIdleTimeout = streamIdleTimeout
    self.totalTimeout = totalTimeout
  }

  /// Creates a `POST` from checked parts only: the way the gateway builds every upstream request.
  public init(
    post url: UpstreamURL, headers: [UpstreamHeaderField], body: [UInt8], connectTimeout: Duration,
    firstByteTimeout: Duration, streamIdleTimeout: Duration, totalTimeout: Duration
  ) {
    self.init(
      method: "POST", url: url.text, headers: headers.map { ($0.name.text, $0.value.text) }, body: body,
      connectTimeout: connectTimeout, firstByteTimeout: firstByteTimeout, streamIdleTimeout: streamIdleTimeout,
      totalTimeout: totalTimeout)
  }

  /// Refuses, before anything is sent, a method that is not a token, a URL with a character outside
  /// RFC 3986 or a malformed escape, and a header name or value that `HeaderName`/`HeaderValue` refuse.
  ///
  /// Every transport calls it: the request's fields are plain strings (tests and tools build them
  /// directly), so the wire is guarded even where the typed builders were not used.
  public func checkedForWire() throws(UpstreamError) {
    guard !method.isEmpty, method.utf8.allSatisfy(WireGrammar.isTokenByte) else {
      throw .invalidRequest(UpstreamTargetError(.method, "is not an HTTP token").description)
    }
    guard url.utf8.allSatisfy(WireGrammar.isURLByte), WireGrammar.hasValidEscapes(url.utf8) else {
      throw .invalidRequest(UpstreamTargetError(.requestTarget, "holds characters a URL may not hold").description)
    }
    for header in headers {
      do {
        _ = try UpstreamHeaderField(header.name, header.value)
      } catch {
        throw .invalidRequest(error.description)
      }
    }
  }
}

/// Which deadline of an exchange passed, with the limit that was set for it.
public enum UpstreamTimeout: Sendable, Equatable {
  /// No TCP (and TLS) connection within the connect timeout.
  case connect(Duration)
  /// No response head within the first-byte timeout (which also covers connecting).
  case firstByte(Duration)
  /// The consumer's own deadline for the next chunk passed (the gateway's first-token deadline).
  case firstToken
  /// No body bytes for the stream idle timeout.
  case idle(Duration)
  /// The whole exchange took longer than its total timeout.
  case total(Duration)

  /// What happened, in words.
  public var description: String {
    switch self {
    case .connect(let limit): "no connection within \(Self.format(limit))"
    case .firstByte(let limit): "no response within \(Self.format(limit))"
    case .firstToken: "no first token in time"
    case .idle(let limit): "no data for \(Self.format(limit))"
    case .total(let limit): "the whole exchange took longer than \(Self.format(limit))"
    }
  }

  /// `300 ms`, `2.5 s`: the unit people write in route files, not `Duration`'s seconds and attoseconds.
  static func format(_ duration: Duration) -> String {
    let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    if milliseconds < 1000 { return "\(milliseconds) ms" }
    if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
    return "\(Double(milliseconds) / 1000) s"
  }
}

/// Why an upstream exchange failed.
public enum UpstreamError: Error, Sendable, Equatable {
  /// The backend could not be reached: refused, unresolvable, TLS handshake failed.
  case connectFailed(String)
  /// A deadline passed; `phase` says which.
  case timedOut(phase: UpstreamTimeout)
  /// The connection broke after the request was sent (reset, closed mid-answer).
  case connectionReset(String)
  /// The backend answered something that is not HTTP, or a body cut short of its declared length.
  case invalidResponse(String)
  /// The caller went away (its task was cancelled) and the exchange was stopped.
  case cancelled
  /// The answer outgrew what louter buffers for it.
  case tooLarge
  /// The request itself could not be put on the wire (a character outside its grammar); nothing was sent.
  case invalidRequest(String)

  /// What happened, for messages and logs.
  public var reason: String {
    switch self {
    case .connectFailed(let detail): "connection failed: \(detail)"
    case .timedOut(let phase): "timed out: \(phase.description)"
    case .connectionReset(let detail): "connection lost: \(detail)"
    case .invalidResponse(let detail): "invalid response: \(detail)"
    case .cancelled: "cancelled"
    case .tooLarge: "answer larger than louter accepts"
    case .invalidRequest(let detail): "request not sent: \(detail)"
    }
  }
}

/// Response headers, looked up case-insensitively.
public struct UpstreamHeaders: Sendable {
  /// The pairs as received.
  public let pairs: [UpstreamRequest.Header]

  /// Creates headers.
  public init(_ pairs: [(String, String)]) { self.pairs = pairs.map { .init(name: $0.0, value: $0.1) } }

  /// The first value of `name`, any case.
  public subscript(name: String) -> String? {
    let lowered = name.lowercased()
    return pairs.first { $0.name.lowercased() == lowered }?.value
  }
}

/// The status and headers of an upstream answer.
public struct UpstreamResponseHead: Sendable {
  /// HTTP status.
  public let status: Int
  /// Headers.
  public let headers: UpstreamHeaders

  /// Creates a head.
  public init(status: Int, headers: UpstreamHeaders) {
    self.status = status
    self.headers = headers
  }
}

/// An upstream answer: head, then a body read chunk by chunk.
public struct UpstreamResponse: Sendable {
  /// Status and headers.
  public let head: UpstreamResponseHead
  /// The body.
  public let body: UpstreamBody
}

/// How the gateway reaches a backend.
public protocol UpstreamTransport: Sendable {
  /// Sends a request; returns once the response head has arrived.
  func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse
}

/// A response body delivered chunk by chunk as it arrives, with an idle deadline between chunks.
///
/// Producers (a URLSession delegate, our own client's loop, the echo backend) push chunks; the gateway
/// pulls them with `next()`. The buffer is bounded: above `pauseAbove` bytes the producer is asked to
/// pause, or, for a producer that cannot pause (`failWhenFull`), the body ends with `.tooLarge`.
public final class UpstreamBody: Sendable {
  struct State {
    var chunks: [[UInt8]] = []
    var buffered = 0
    var finished = false
    var failure: UpstreamError?
    var waiter: CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>?
    var paused = false
    /// A deadline the consumer set for the next chunk (the first token's), enforced by the producer's loop.
    var consumerDeadline: ContinuousClock.Instant?
  }

  private let state = Mutex(State())
  let idleTimeout: Duration
  /// The end of the whole exchange and its limit, enforced by `next()` unless the producer does it.
  let total: (deadline: ContinuousClock.Instant, limit: Duration)?
  let pauseAbove: Int
  /// True when the producer cannot pause: a full buffer ends the body instead of growing.
  let failWhenFull: Bool
  /// Called to pause (true) or resume (false) the producer.
  let flowControl: (@Sendable (Bool) -> Void)?
  /// Called when the consumer cancels.
  let onCancel: (@Sendable () -> Void)?
  /// True when the producer enforces the idle and consumer deadlines itself (our own client's loop),
  /// so that waiting for a chunk costs no timer task.
  let producerEnforcesDeadlines: Bool

  init(
    idleTimeout: Duration, total: (deadline: ContinuousClock.Instant, limit: Duration)? = nil,
    pauseAbove: Int = 8 << 20, failWhenFull: Bool = false, flowControl: (@Sendable (Bool) -> Void)? = nil,
    onCancel: (@Sendable () -> Void)? = nil, producerEnforcesDeadlines: Bool = false
  ) {
    self.producerEnforcesDeadlines = producerEnforcesDeadlines
    self.idleTimeout = idleTimeout
    self.total = total
    self.pauseAbove = pauseAbove
    self.failWhenFull = failWhenFull
    self.flowControl = flowControl
    self.onCancel = onCancel
  }

  /// A body that is already complete.
  convenience init(chunks: [[UInt8]]) {
    self.init(idleTimeout: .seconds(60))
    for chunk in chunks { push(chunk) }
    finish(nil)
  }

  /// Adds a chunk (producer side).
  func push(_ chunk: [UInt8]) {
    guard !chunk.isEmpty else { return }
    var pause = false
    var overflow = false
    let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
      // Bytes that arrive after the end (a cancelled task's last callbacks) have no reader.
      guard !state.finished else { return nil }
      if let waiter = state.waiter {
        state.waiter = nil
        return waiter
      }
      state.chunks.append(chunk)
      state.buffered += chunk.count
      if state.buffered > pauseAbove, !state.paused {
        if failWhenFull {
          // The reader is this far behind and the producer cannot be paused: stop rather than grow.
          state.chunks.removeAll()
          state.buffered = 0
          state.finished = true
          state.failure = .tooLarge
          overflow = true
        } else {
          state.paused = true
          pause = true
        }
      }
      return nil
    }
    waiter?.resume(returning: .success(chunk))
    if pause { flowControl?(true) }
    if overflow { onCancel?() }
  }

  /// True while the buffer is above `pauseAbove` and the producer has been asked to pause.
  var wantsPause: Bool { state.withLock { $0.paused } }

  /// Bytes pushed and not yet read (for tests of the bound).
  var bufferedBytes: Int { state.withLock { $0.buffered } }

  /// Ends the body, cleanly (nil) or with an error (producer side).
  func finish(_ failure: UpstreamError?) {
    let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
      guard !state.finished else { return nil }
      state.finished = true
      state.failure = failure
      let waiter = state.waiter
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: failure.map { .failure($0) } ?? .success(nil))
  }

  /// True once the producer has ended the body (its chunks may still be buffered).
  var isFinished: Bool { state.withLock { $0.finished } }

  /// The consumer's deadline for the next chunk, if any (read by the producer's loop).
  var consumerDeadline: ContinuousClock.Instant? { state.withLock { $0.consumerDeadline } }

  /// The next chunk, or nil at the end of the body; `.timedOut` after the idle timeout, or at `deadline`.
  public func next(deadline consumerDeadline: ContinuousClock.Instant? = nil) async throws(UpstreamError) -> [UInt8]? {
    if let total, !producerEnforcesDeadlines, ContinuousClock.now >= total.deadline, !isFinished {
      // A backend that keeps sending still has to finish within the total timeout.
      let error = UpstreamError.timedOut(phase: .total(total.limit))
      finish(error)
      cancel()
      throw error
    }
    if let ready = take() { return try ready.get() }
    if producerEnforcesDeadlines {
      state.withLock { $0.consumerDeadline = consumerDeadline }
      let result = await waitForChunk()
      state.withLock { $0.consumerDeadline = nil }
      if case .failure(.cancelled) = result { cancel() }
      return try result.get()
    }
    // The earliest of the idle, consumer and total deadlines, and the timeout it stands for.
    var earliest = ContinuousClock.now.advanced(by: idleTimeout)
    var missed = UpstreamTimeout.idle(idleTimeout)
    if let consumerDeadline, consumerDeadline < earliest {
      earliest = consumerDeadline
      missed = .firstToken
    }
    if let total, total.deadline < earliest {
      earliest = total.deadline
      missed = .total(total.limit)
    }
    let deadline = earliest
    let timeout = missed
    let result = await withTaskGroup(of: Result<[UInt8]?, UpstreamError>?.self) { group in
      group.addTask { await self.waitForChunk() }
      group.addTask {
        try? await Task.sleep(until: deadline, clock: .continuous)
        return Task.isCancelled ? nil : .failure(.timedOut(phase: timeout))
      }
      var outcome: Result<[UInt8]?, UpstreamError> = .failure(.cancelled)
      while let next = await group.next() {
        guard let next else { continue }
        outcome = next
        break
      }
      group.cancelAll()
      return outcome
    }
    if case .failure(let error) = result {
      if case .timedOut = error { finish(error) }
      cancel()
    }
    return try result.get()
  }

  private func take() -> Result<[UInt8]?, UpstreamError>? {
    var resume = false
    let result = state.withLock { state -> Result<[UInt8]?, UpstreamError>? in
      if !state.chunks.isEmpty {
        let chunk = state.chunks.removeFirst()
        state.buffered -= chunk.count
        if state.paused, state.buffered < pauseAbove / 2 {
          state.paused = false
          resume = true
        }
        return .success(chunk)
      }
      if state.finished { return state.failure.map { .failure($0) } ?? .success(nil) }
      return nil
    }
    if resume { flowControl?(false) }
    return result
  }

  private func waitForChunk() async -> Result<[UInt8]?, UpstreamError> {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>) in
        let ready = state.withLock { state -> Result<[UInt8]?, UpstreamError>? in
          if !state.chunks.isEmpty || state.finished { return nil }
          if Task.isCancelled { return .failure(.cancelled) }
          state.waiter = continuation
          return .success([])
        }
        switch ready {
        case .success(let chunk)? where chunk?.isEmpty == true:
          break
        case let value?:
          continuation.resume(returning: value)
        case nil:
          continuation.resume(returning: take() ?? .failure(.cancelled))
        }
      }
    } onCancel: {
      let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
        let waiter = state.waiter
        state.waiter = nil
        return waiter
      }
      waiter?.resume(returning: .failure(.cancelled))
    }
  }

  /// Stops the transfer now; later `next()` calls end with `.cancelled` once the buffer is empty.
  public func cancel() {
    finish(.cancelled)
    onCancel?()
  }
}

/// Hands an upstream response head (or the failure that stands for it) to the one task waiting for it.
final class HeadLatch: Sendable {
  typealias Outcome = Result<UpstreamResponseHead, UpstreamError>

  private let state = Mutex<(value: Outcome?, waiter: CheckedContinuation<Outcome, Never>?)>((nil, nil))

  /// Sets the outcome once; later calls are ignored.
  func resolve(_ value: Outcome) {
    let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
      guard state.value == nil else { return nil }
      state.value = value
      let waiter = state.waiter
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: value)
  }

  /// The outcome; a cancelled waiter gets `.cancelled`.
  func wait() async -> Outcome {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let ready = state.withLock { state -> Outcome? in
          if let value = state.value { return value }
          state.waiter = continuation
          return nil
        }
        if let ready { continuation.resume(returning: ready) }
      }
    } onCancel: {
      resolve(.failure(.cancelled))
    }
  }
}
