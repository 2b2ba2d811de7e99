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
}

/// Why an upstream exchange failed.
public enum UpstreamError: Error, Sendable {
  case connectFailed(String)
  case timedOut(String)
  case connectionReset(String)
  case invalidResponse(String)
  case cancelled
  case tooLarge

  /// What happened, for messages and logs.
  public var reason: String {
    switch self {
    case .connectFailed(let detail): "connection failed: \(detail)"
    case .timedOut(let detail): "timed out: \(detail)"
    case .connectionReset(let detail): "connection lost: \(detail)"
    case .invalidResponse(let detail): "invalid response: \(detail)"
    case .cancelled: "cancelled"
    case .tooLarge: "answer larger than louter accepts"
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
/// Producers (a URLSession delegate, the echo backend) push chunks; the gateway pulls them with
/// `next()`. The buffer is bounded: above `pauseAbove` bytes the producer is asked to pause.
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
  let pauseAbove: Int
  /// Called to pause (true) or resume (false) the producer.
  let flowControl: (@Sendable (Bool) -> Void)?
  /// Called when the consumer cancels.
  let onCancel: (@Sendable () -> Void)?
  /// True when the producer enforces the idle and consumer deadlines itself (our own client's loop),
  /// so that waiting for a chunk costs no timer task.
  let producerEnforcesDeadlines: Bool

  init(
    idleTimeout: Duration, pauseAbove: Int = 8 << 20, flowControl: (@Sendable (Bool) -> Void)? = nil,
    onCancel: (@Sendable () -> Void)? = nil, producerEnforcesDeadlines: Bool = false
  ) {
    self.producerEnforcesDeadlines = producerEnforcesDeadlines
    self.idleTimeout = idleTimeout
    self.pauseAbove = pauseAbove
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
    let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
      if let waiter = state.waiter {
        state.waiter = nil
        return waiter
      }
      state.chunks.append(chunk)
      state.buffered += chunk.count
      if state.buffered > pauseAbove, !state.paused {
        state.paused = true
        pause = true
      }
      return nil
    }
    waiter?.resume(returning: .success(chunk))
    if pause { flowControl?(true) }
  }

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

  /// The consumer's deadline for the next chunk, if any (read by the producer's loop).
  var consumerDeadline: ContinuousClock.Instant? { state.withLock { $0.consumerDeadline } }

  /// The next chunk, or nil at the end of the body; `.timedOut` after the idle timeout, or at `deadline`.
  public func next(deadline consumerDeadline: ContinuousClock.Instant? = nil) async throws(UpstreamError) -> [UInt8]? {
    if let ready = take() { return try ready.get() }
    if producerEnforcesDeadlines {
      state.withLock { $0.consumerDeadline = consumerDeadline }
      let result = await waitForChunk()
      state.withLock { $0.consumerDeadline = nil }
      if case .failure(.cancelled) = result { cancel() }
      return try result.get()
    }
    let idleDeadline = ContinuousClock.now.advanced(by: idleTimeout)
    let deadline = consumerDeadline.map { min($0, idleDeadline) } ?? idleDeadline
    let idle = idleTimeout
    let result = await withTaskGroup(of: Result<[UInt8]?, UpstreamError>?.self) { group in
      group.addTask { await self.waitForChunk() }
      group.addTask {
        try? await Task.sleep(until: deadline, clock: .continuous)
        return Task.isCancelled ? nil : .failure(.timedOut("no data for \(idle)"))
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
