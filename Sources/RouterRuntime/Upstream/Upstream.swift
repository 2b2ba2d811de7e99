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
  public var method: String { didSet { builtFromCheckedParts = false } }
  /// Absolute URL (`http://`, `https://`, or `echo://local/...` for the echo backend).
  public var url: String { didSet { builtFromCheckedParts = false } }
  /// Headers to send.
  public var headers: [Header] { didSet { builtFromCheckedParts = false } }
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
  /// True when `init(post:)` made the method, URL and headers from checked types and nothing changed them since:
  /// ``checkedForWire()`` then has nothing left to find. Any change of the three clears it.
  private var builtFromCheckedParts = false

  /// Creates a request.
  public init(
    method: String, url: String, headers: [(String, String)], body: [UInt8], connectTimeout: Duration,
    firstByteTimeout: Duration, streamIdleTimeout: Duration, totalTimeout: Duration
  ) {
    self.init(
      method: method, url: url, headers: headers.map { Header(name: $0.0, value: $0.1) }, body: body,
      timeouts: (connectTimeout, firstByteTimeout, streamIdleTimeout, totalTimeout))
  }

  /// Creates a `POST` from checked parts only: the way the gateway builds every upstream request.
  public init(
    post url: UpstreamURL, headers: [UpstreamHeaderField], body: [UInt8], connectTimeout: Duration,
    firstByteTimeout: Duration, streamIdleTimeout: Duration, totalTimeout: Duration
  ) {
    self.init(
      method: "POST", url: url.text, headers: headers.map { Header(name: $0.name.text, value: $0.value.text) },
      body: body, timeouts: (connectTimeout, firstByteTimeout, streamIdleTimeout, totalTimeout))
    builtFromCheckedParts = true
  }

  private init(
    method: String, url: String, headers: [Header], body: [UInt8],
    timeouts: (connect: Duration, firstByte: Duration, streamIdle: Duration, total: Duration)
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.connectTimeout = timeouts.connect
    self.firstByteTimeout = timeouts.firstByte
    self.streamIdleTimeout = timeouts.streamIdle
    self.totalTimeout = timeouts.total
  }

  /// Refuses, before anything is sent, a method that is not a token, a URL with a character outside
  /// RFC 3986 or a malformed escape, and a header name or value that `HeaderName`/`HeaderValue` refuse.
  ///
  /// Every transport calls it: the request's fields are plain strings (tests and tools build them
  /// directly), so the wire is guarded even where the typed builders were not used.
  public func checkedForWire() throws(UpstreamError) {
    // Checked types already held all three to this grammar (a test checks they can only pass it).
    if builtFromCheckedParts { return }
    guard !method.isEmpty, WireGrammar.holdsOnly(WireGrammar.tokenBytes, method) else {
      throw .invalidRequest(UpstreamTargetError(.method, "is not an HTTP token").description)
    }
    guard WireGrammar.holdsOnly(WireGrammar.urlBytes, url, checkingEscapes: true) else {
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

/// Response headers, looked up case-insensitively; kept as bytes like a request's (``HeaderFieldBytes``).
public struct UpstreamHeaders: Sendable, Equatable {
  private let fields: HeaderFieldBytes

  /// The pairs as received.
  public var pairs: [UpstreamRequest.Header] {
    (0..<fields.count).map { .init(name: fields.name(at: $0), value: fields.value(at: $0)) }
  }

  /// Creates headers.
  public init(_ pairs: [(String, String)]) {
    var fields = HeaderFieldBytes()
    for (name, value) in pairs { fields.append(name: name, value: value) }
    self.fields = fields
  }

  /// Headers a parser read.
  init(fields: HeaderFieldBytes) { self.fields = fields }

  /// The first value of `name`, any case.
  public subscript(name: String) -> String? {
    fields.firstIndex(named: name).map(fields.value(at:))
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

/// The producer of an ``UpstreamBody``, as the body's consumer reaches it: asked to pause or resume (the reader is
/// far behind, then caught up) and to stop (the reader cancelled). Called on the consumer's thread: an
/// implementation moves the call to wherever its producer runs. A class of the producer's own, not a pair of
/// closures: an exchange then allocates no closure contexts for calls that rarely come.
protocol UpstreamProducer: AnyObject, Sendable {
  /// Pause (true) or resume (false) pushing. A producer that cannot pause ignores it (its body then has
  /// `failWhenFull`).
  func setPaused(_ pause: Bool)
  /// Stop producing: the consumer cancelled.
  func stopProducing()
}

/// A response body delivered chunk by chunk as it arrives.
///
/// Producers (our own client's connection on a reactor, a URLSession delegate, the echo backend) push
/// chunks; the gateway pulls them with `next()`. The producer enforces the exchange's own deadlines (idle,
/// total) with timers on a reactor; the consumer's deadline for its next chunk (the first token's) is a
/// timer on the consumer's reactor. The buffer is bounded: above `pauseAbove` bytes the producer is asked
/// to pause, or, for a producer that cannot pause (`failWhenFull`), the body ends with `.tooLarge`.
public final class UpstreamBody: Sendable {
  struct State {
    var chunks = ChunkQueue()
    var buffered = 0
    var finished = false
    var failure: UpstreamError?
    // Unsafe, not checked, continuations here and in `HeadLatch`: a checked one allocates per wait, and
    // each waiter is taken out of this state under its lock, so it is resumed exactly once.
    var waiter: UnsafeContinuation<Result<[UInt8]?, UpstreamError>, Never>?
    /// Waiting for the body to end, whatever is still buffered (`waitUntilFinished`).
    var finishWaiters: [UnsafeContinuation<Void, Never>] = []
    var paused = false
    /// When the head arrived or the producer last pushed (the idle deadline counts from it).
    var lastActivity = MonotonicInstant.now
    /// When the body ended (cleanly, failed or cancelled), for the request's upstream timing.
    var endedAt: MonotonicInstant?

    /// Ends the body (the one place that does): returns whoever waits on it, to resume outside the lock,
    /// or nil when it had already ended. Every ending must wake `finishWaiters`, since no later one will.
    mutating func end(_ failure: UpstreamError?) -> (
      waiter: UnsafeContinuation<Result<[UInt8]?, UpstreamError>, Never>?,
      finishWaiters: [UnsafeContinuation<Void, Never>]
    )? {
      guard !finished else { return nil }
      finished = true
      self.failure = failure
      endedAt = .now
      defer {
        waiter = nil
        finishWaiters = []
      }
      return (waiter, finishWaiters)
    }
  }

  private let state = Mutex(State())
  let pauseAbove: Int
  /// True when the producer cannot pause: a full buffer ends the body instead of growing.
  let failWhenFull: Bool
  /// Asked to pause, resume and stop; nil for a body complete from the start.
  let producer: (any UpstreamProducer)?

  init(pauseAbove: Int = 8 << 20, failWhenFull: Bool = false, producer: (any UpstreamProducer)? = nil) {
    self.pauseAbove = pauseAbove
    self.failWhenFull = failWhenFull
    self.producer = producer
  }

  /// A body that is already complete.
  convenience init(chunks: [[UInt8]]) {
    self.init()
    for chunk in chunks { push(chunk) }
    finish(nil)
  }

  /// Adds a chunk (producer side).
  func push(_ chunk: [UInt8]) {
    guard !chunk.isEmpty else { return }
    var pause = false
    var overflow: [UnsafeContinuation<Void, Never>]?
    let waiter = state.withLock { state -> UnsafeContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
      // Bytes that arrive after the end (a cancelled task's last callbacks) have no reader.
      guard !state.finished else { return nil }
      state.lastActivity = .now
      if let waiter = state.waiter {
        state.waiter = nil
        return waiter
      }
      state.chunks.append(chunk)
      state.buffered += chunk.count
      if state.buffered > pauseAbove, !state.paused {
        if failWhenFull {
          // The reader is this far behind and the producer cannot be paused: stop rather than grow. (No
          // reader is parked: a chunk was just buffered.)
          state.chunks.removeAll()
          state.buffered = 0
          overflow = state.end(.tooLarge)?.finishWaiters
        } else {
          state.paused = true
          pause = true
        }
      }
      return nil
    }
    waiter?.resume(returning: .success(chunk))
    if pause { producer?.setPaused(true) }
    if let finishWaiters = overflow {
      for waiter in finishWaiters { waiter.resume() }
      producer?.stopProducing()
    }
  }

  /// True while the buffer is above `pauseAbove` and the producer has been asked to pause.
  var wantsPause: Bool { state.withLock { $0.paused } }

  /// Bytes pushed and not yet read (for tests of the bound).
  var bufferedBytes: Int { state.withLock { $0.buffered } }

  /// The head arrived (producer side): the body's idle deadline counts from now, not from the request.
  func headArrived() { state.withLock { $0.lastActivity = .now } }

  /// When the producer last pushed, and whether it is paused (for the idle deadline).
  var activity: (last: MonotonicInstant, paused: Bool) { state.withLock { ($0.lastActivity, $0.paused) } }

  /// Ends the body, cleanly (nil) or with an error (producer side, or a deadline).
  func finish(_ failure: UpstreamError?) {
    guard let ended = state.withLock({ $0.end(failure) }) else { return }
    ended.waiter?.resume(returning: failure.map { .failure($0) } ?? .success(nil))
    for waiter in ended.finishWaiters { waiter.resume() }
  }

  /// Returns once the producer has ended the body (for tests that must not race the producer).
  func waitUntilFinished() async {
    await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
      let finished = state.withLock { state -> Bool in
        if state.finished { return true }
        state.finishWaiters.append(continuation)
        return false
      }
      if finished { continuation.resume() }
    }
  }

  /// How many `waitUntilFinished` calls are parked (for tests).
  var finishWaiterCount: Int { state.withLock { $0.finishWaiters.count } }

  /// True once the producer has ended the body (its chunks may still be buffered).
  var isFinished: Bool { state.withLock { $0.finished } }

  /// When the body ended; nil while it goes on.
  var endedAt: MonotonicInstant? { state.withLock { $0.endedAt } }

  /// The next chunk, or nil at the end of the body; `.timedOut(.firstToken)` if nothing came by `deadline`.
  public func next(deadline: MonotonicInstant? = nil) async throws(UpstreamError) -> [UInt8]? {
    if let ready = take() { return try ready.get() }
    let result: Result<[UInt8]?, UpstreamError>
    if let deadline {
      // The consumer's own deadline: a timer on the consumer's reactor ends the wait.
      let reactor = Reactor.currentOrShared
      let timer = await reactor.perform { [self] in
        reactor.schedule(at: deadline) { self.finish(.timedOut(phase: .firstToken)) }
      }
      result = await waitForChunk()
      reactor.cancelFromAnyThread(timer)
    } else {
      result = await waitForChunk()
    }
    if case .failure(let error) = result, error != .tooLarge { cancel() }
    return try result.get()
  }

  private func take() -> Result<[UInt8]?, UpstreamError>? {
    var resume = false
    let result = state.withLock { state -> Result<[UInt8]?, UpstreamError>? in
      if let chunk = state.chunks.removeFirst() {
        state.buffered -= chunk.count
        if state.paused, state.buffered < pauseAbove / 2 {
          state.paused = false
          state.lastActivity = .now
          resume = true
        }
        return .success(chunk)
      }
      if state.finished { return state.failure.map { .failure($0) } ?? .success(nil) }
      return nil
    }
    if resume { producer?.setPaused(false) }
    return result
  }

  private func waitForChunk() async -> Result<[UInt8]?, UpstreamError> {
    await withTaskCancellationHandler {
      await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<[UInt8]?, UpstreamError>, Never>) in
        let parked = state.withLock { state -> Bool in
          if !state.chunks.isEmpty || state.finished || Task.isCancelled { return false }
          state.waiter = continuation
          return true
        }
        if !parked { continuation.resume(returning: take() ?? .failure(.cancelled)) }
      }
    } onCancel: {
      let waiter = state.withLock { state -> UnsafeContinuation<Result<[UInt8]?, UpstreamError>, Never>? in
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
    producer?.stopProducing()
  }
}

/// The chunks of an ``UpstreamBody`` waiting for its reader, oldest first. The oldest is held apart from the rest:
/// a body that waits as one chunk (a whole answer, read at once) allocates no array to wait in.
struct ChunkQueue {
  /// Nil only while `rest` is empty too.
  private var oldest: [UInt8]?
  private var rest: [[UInt8]] = []

  var isEmpty: Bool { oldest == nil }

  mutating func append(_ chunk: [UInt8]) {
    if oldest == nil {
      oldest = chunk
    } else {
      rest.append(chunk)
    }
  }

  /// The oldest chunk, taken out; nil when there is none.
  mutating func removeFirst() -> [UInt8]? {
    guard let chunk = oldest else { return nil }
    oldest = rest.isEmpty ? nil : rest.removeFirst()
    return chunk
  }

  mutating func removeAll() {
    oldest = nil
    rest = []
  }
}

/// The deadlines of one upstream exchange, and the one rule for which has passed: shared by our own
/// client's connections and the URLSession watchdog.
struct UpstreamDeadlines: Sendable {
  /// Where the exchange is.
  enum Stage: Sendable {
    case connecting
    case awaitingHead
    /// The head arrived; the body's last bytes came at `lastActivity`, and reading is `paused` (a slow
    /// consumer: the backend's silence then is ours, and does not count as idle).
    case receiving(lastActivity: MonotonicInstant, paused: Bool)
  }

  /// What a check found.
  enum Check: Sendable, Equatable {
    case expired(UpstreamTimeout)
    /// Nothing has passed; check again at this instant.
    case checkAgain(MonotonicInstant)
  }

  let connectTimeout: Duration
  let firstByteTimeout: Duration
  let idleTimeout: Duration
  let totalTimeout: Duration
  let start: MonotonicInstant
  // The fixed deadlines, and the idle timeout in nanoseconds, worked out once: a check runs on every read
  // of the answer, and turning a `Duration` into nanoseconds costs more than the check.
  private let connectDeadline: MonotonicInstant
  private let firstByteDeadline: MonotonicInstant
  private let totalDeadline: MonotonicInstant
  private let idleNanoseconds: Int64

  init(_ request: UpstreamRequest, start: MonotonicInstant) {
    connectTimeout = request.connectTimeout
    firstByteTimeout = request.firstByteTimeout
    idleTimeout = request.streamIdleTimeout
    totalTimeout = request.totalTimeout
    self.start = start
    connectDeadline = start.advanced(by: connectTimeout)
    firstByteDeadline = start.advanced(by: firstByteTimeout)
    totalDeadline = start.advanced(by: totalTimeout)
    idleNanoseconds = MonotonicInstant.nanoseconds(of: idleTimeout)
  }

  /// Which deadline has passed at `now` in `stage`, else when to look again.
  func check(_ stage: Stage, now: MonotonicInstant) -> Check {
    if now >= totalDeadline { return .expired(.total(totalTimeout)) }
    var next = totalDeadline
    switch stage {
    case .connecting:
      if now >= connectDeadline { return .expired(.connect(connectTimeout)) }
      if now >= firstByteDeadline { return .expired(.firstByte(firstByteTimeout)) }
      next = min(next, connectDeadline, firstByteDeadline)
    case .awaitingHead:
      if now >= firstByteDeadline { return .expired(.firstByte(firstByteTimeout)) }
      next = min(next, firstByteDeadline)
    case .receiving(let lastActivity, let paused):
      if !paused {
        let idle = lastActivity.advanced(byNanoseconds: idleNanoseconds)
        if now >= idle { return .expired(.idle(idleTimeout)) }
        next = min(next, idle)
      }
    }
    return .checkAgain(next)
  }
}

/// Hands an upstream response head (or the failure that stands for it) to the one task waiting for it.
///
/// Noncopyable, so that it lives inside the exchange that owns it (one allocation fewer per exchange).
struct HeadLatch: ~Copyable, Sendable {
  typealias Outcome = Result<UpstreamResponseHead, UpstreamError>

  private let state = Mutex<(value: Outcome?, waiter: UnsafeContinuation<Outcome, Never>?)>((nil, nil))

  /// Sets the outcome once; later calls are ignored.
  borrowing func resolve(_ value: Outcome) {
    let waiter = state.withLock { state -> UnsafeContinuation<Outcome, Never>? in
      guard state.value == nil else { return nil }
      state.value = value
      let waiter = state.waiter
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: value)
  }

  /// The outcome; a cancelled waiter gets `.cancelled`.
  borrowing func wait() async -> Outcome {
    await withTaskCancellationHandler {
      await withUnsafeContinuation { continuation in
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
