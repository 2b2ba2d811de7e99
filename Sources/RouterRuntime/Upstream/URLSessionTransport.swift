import CLouterSystem
import Glibc
import Synchronization

/// The upstream transport for `https://` backends: URLSession (TLS, connection reuse, streaming), run by
/// `libLouterHTTPS.so` (Sources/LouterHTTPS) through the C interface in `CLouterSystem.h`.
///
/// The library is loaded with `dlopen` at the first request (`HTTPSLibrary`): URLSession needs all of
/// Foundation, libcurl and a TLS library, about 13 MiB of resident pages that a gateway whose https
/// backends are never called (or not yet) should not hold. Everything that is louter's rule stays here:
/// the wire check, the deadlines, the buffer bound, and what each ending means.
///
/// Deadlines: connecting and the head share the first-byte deadline (URLSession does not tell when the
/// connection is up, so `connectTimeout` is not enforced on its own); the body has the idle deadline
/// between chunks and the total deadline overall.
///
/// Slow readers: on Linux, `URLSessionTask.suspend()` removes the transfer from libcurl's multi handle
/// and `resume()` starts it again from the beginning (the request is sent a second time), so a body
/// cannot be paused. Instead the body keeps at most `bufferLimit` unread bytes; beyond that it ends
/// with `.tooLarge` and the task is cancelled.
public final class URLSessionTransport: UpstreamTransport, Sendable {
  private let bufferLimit: Int

  /// Creates a transport whose bodies may hold up to `bufferLimit` unread bytes.
  public init(bufferLimit: Int = 8 << 20) {
    self.bufferLimit = bufferLimit
  }

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    // libcurl takes header values as they are: a CR or LF would end the header there.
    try request.checkedForWire()
    let library = try HTTPSLibrary.shared.get()
    let deadlines = UpstreamDeadlines(request, start: .now)
    let exchange = Exchange(library: library, totalTimeout: request.totalTimeout, bufferLimit: bufferLimit)
    guard exchange.start(request) else {
      throw .invalidRequest("not an absolute http(s) URL")
    }
    // The deadlines live on the caller's reactor: one timer, moved along as the exchange goes.
    let reactor = Reactor.currentOrShared
    await reactor.perform { exchange.watch(deadlines, on: reactor) }
    switch await exchange.waitForHead() {
    case .success(let head):
      return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      exchange.body.finish(error)
      exchange.stopWatching()
      exchange.cancel()
      throw error
    }
  }

  /// One exchange's state: the head latch, the body and the deadline watch. The library calls its
  /// `events` from URLSession's delegate thread; everything here is behind a lock or atomic.
  final class Exchange: Sendable {
    let body: UpstreamBody
    let totalTimeout: Duration
    private let library: HTTPSLibrary
    private let head = HeadLatch()
    /// Set once the head arrived (URLSession tells no earlier stage).
    private let headArrived = Atomic<Bool>(false)
    /// The library's id for the exchange, 0 until it started.
    private let id = Atomic<Int>(0)
    private let cancelRequested = Atomic<Bool>(false)
    /// The watch's pending timer, cancelled when the exchange ends so that no timer outlives it, and the
    /// deadlines it checks (to check them again at once when the head arrives).
    private let watchTimer = Mutex<(reactor: Reactor, id: TimerHeap<() -> Void>.ID, deadlines: UpstreamDeadlines)?>(
      nil)

    init(library: HTTPSLibrary, totalTimeout: Duration, bufferLimit: Int) {
      self.library = library
      self.totalTimeout = totalTimeout
      let cancel = CancelBox()
      body = UpstreamBody(pauseAbove: bufferLimit, failWhenFull: true, producer: cancel)
      cancel.exchange = self
    }

    /// Hands the request to the library; false when it refused the URL (then no event comes).
    func start(_ request: UpstreamRequest) -> Bool {
      // The library holds a reference until its `end` event, which releases it.
      let context = Unmanaged.passRetained(self).toOpaque()
      // URLSession's own timer counts whole seconds; it is only a backstop behind our deadlines.
      let backstop = request.totalTimeout.components.seconds.addingReportingOverflow(2)
      let started = library.start(
        request, timeoutSeconds: backstop.overflow ? Int.max : Int(backstop.partialValue), context: context)
      guard started > 0 else {
        Unmanaged<Exchange>.fromOpaque(context).release()
        return false
      }
      id.store(started, ordering: .releasing)
      if cancelRequested.load(ordering: .acquiring) { library.cancel(started) }
      return true
    }

    /// Stops the exchange (its `end` event still comes); before it started, as soon as it does.
    func cancel() {
      cancelRequested.store(true, ordering: .releasing)
      let started = id.load(ordering: .acquiring)
      if started > 0 { library.cancel(started) }
    }

    func resolveHead(_ value: Result<UpstreamResponseHead, UpstreamError>) {
      if case .success = value {
        // Before the flag: a watch that sees the head must see its time too.
        body.headArrived()
        headArrived.store(true, ordering: .releasing)
        rewatch()
      }
      head.resolve(value)
    }

    /// Checks the deadlines again now, for a new stage: the pending timer waits for the first-byte
    /// deadline, and the body's idle (or total) deadline may fall well before it.
    private func rewatch() {
      guard let reactor = watchTimer.withLock({ $0?.reactor }) else { return }
      reactor.execute { [self] in
        // On the loop thread, where the watch runs: the timer pending now is the one to replace.
        guard let pending = watchTimer.withLock({ $0 }) else { return }
        reactor.cancel(pending.id)
        watch(pending.deadlines, on: reactor)
      }
    }

    func waitForHead() async -> Result<UpstreamResponseHead, UpstreamError> { await head.wait() }

    /// The library's last word on the exchange, in louter's terms.
    func end(kind: Int32, detail: String) {
      stopWatching()
      guard let error = Self.error(kind: kind, detail: detail, totalTimeout: totalTimeout) else {
        resolveHead(.failure(.invalidResponse("the connection closed before a response")))
        body.finish(nil)
        return
      }
      resolveHead(.failure(error))
      body.finish(error)
    }

    /// What an ending means to the fallback chain; nil for a body that ended normally.
    static func error(kind: Int32, detail: String, totalTimeout: Duration) -> UpstreamError? {
      switch kind {
      case CLOUTER_HTTPS_FINISHED: nil
      case CLOUTER_HTTPS_CONNECT_FAILED: .connectFailed(detail)
      case CLOUTER_HTTPS_TIMED_OUT: .timedOut(phase: .total(totalTimeout))
      case CLOUTER_HTTPS_CANCELLED: .cancelled
      case CLOUTER_HTTPS_INVALID_RESPONSE: .invalidResponse(detail)
      case CLOUTER_HTTPS_TOO_LARGE: .tooLarge
      default: .connectionReset(detail)
      }
    }

    /// Checks `deadlines` on `reactor` (its loop thread) until the body ends: the first byte, then the
    /// idle gap and the total, with the same rule as our own client.
    func watch(_ deadlines: UpstreamDeadlines, on reactor: Reactor) {
      guard !body.isFinished else { return }
      let stage: UpstreamDeadlines.Stage
      if headArrived.load(ordering: .acquiring) {
        let activity = body.activity
        stage = .receiving(lastActivity: activity.last, paused: activity.paused)
      } else {
        stage = .awaitingHead
      }
      switch deadlines.check(stage, now: .now) {
      case .expired(let timeout):
        let error = UpstreamError.timedOut(phase: timeout)
        resolveHead(.failure(error))
        body.finish(error)
        cancel()
      case .checkAgain(let instant):
        let id = reactor.schedule(at: instant) { [self] in watch(deadlines, on: reactor) }
        watchTimer.withLock { $0 = (reactor, id, deadlines) }
        // A head that arrived since the stage was read found no timer to replace: check again for it.
        if case .awaitingHead = stage, headArrived.load(ordering: .acquiring) {
          reactor.cancel(id)
          watch(deadlines, on: reactor)
        }
      }
    }

    /// The exchange ended: its deadlines no longer matter.
    func stopWatching() {
      guard let timer = watchTimer.withLock({ $0 }) else { return }
      timer.reactor.cancelFromAnyThread(timer.id)
    }
  }

  /// The body's cancel hook, which must exist before the exchange that it cancels. A transfer cannot be paused
  /// (the body fails when full instead).
  final class CancelBox: UpstreamProducer, @unchecked Sendable {
    // Written once in `Exchange.init`, before the body can be read or cancelled.
    weak var exchange: Exchange?

    func setPaused(_ pause: Bool) {}
    func stopProducing() { exchange?.cancel() }
  }
}

/// The LouterHTTPS library's functions, found once per process at the first https request: in the
/// executable itself when it was linked in (scripts/release's static binary), else in
/// `libLouterHTTPS.so` from the folder of the running executable (or `LOUTER_HTTPS_LIBRARY`, a full
/// path, when set).
struct HTTPSLibrary: @unchecked Sendable {
  // Function pointers into a library that is never unloaded.
  private let startFunction: clouter_https_start_fn
  private let cancelFunction: clouter_https_cancel_fn

  /// The library's file name, next to the louter binary.
  static let fileName = "libLouterHTTPS.so"

  /// Loaded at first use; a failure (the file missing, another interface version) is kept and told to
  /// every https request as a connect failure.
  static let shared: Result<HTTPSLibrary, UpstreamError> = {
    if let executable = builtIn, case .success(let library) = bind(executable, from: "louter") {
      return .success(library)
    }
    return load(path: path)
  }()

  /// The executable itself when the library was linked into it (it exports the functions), else nil.
  private static var builtIn: OpaquePointer? {
    guard case .success(let executable) = Posix.loadLibrary(nil),
      Posix.symbol(executable, "louter_https_abi") != nil
    else { return nil }
    return executable
  }

  /// Why the library would not load, checked without loading it (a built-in library, or a readable file
  /// at `path`); nil when it is there.
  static var missing: String? {
    if builtIn != nil { return nil }
    let path = path
    return Posix.isReadableFile(path) ? nil : "https backends need \(fileName) next to louter; \(path) is missing"
  }

  /// Where the library is looked for.
  static var path: String {
    if let override = Posix.environment("LOUTER_HTTPS_LIBRARY"), !override.isEmpty { return override }
    let executable = Posix.executablePath() ?? ""
    let folder = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return folder + "/" + fileName
  }

  static func load(path: String) -> Result<HTTPSLibrary, UpstreamError> {
    let problem = { (what: String) in
      UpstreamError.connectFailed(
        "https backends need \(fileName) (built by `swift build`, installed next to louter): \(what)")
    }
    switch Posix.loadLibrary(path) {
    case .success(let handle): return bind(handle, from: path).mapError { problem($0.message) }
    case .failure(let error): return .failure(problem(error.message))
    }
  }

  /// The functions in a loaded image, checked for the interface version.
  static func bind(_ handle: OpaquePointer, from path: String) -> Result<HTTPSLibrary, Posix.LoaderError> {
    guard let abi = Posix.symbol(handle, "louter_https_abi"), let start = Posix.symbol(handle, "louter_https_start"),
      let cancel = Posix.symbol(handle, "louter_https_cancel")
    else { return .failure(Posix.LoaderError(message: "\(path) lacks the louter_https_* functions")) }
    let version = unsafeBitCast(abi, to: clouter_https_abi_fn.self)()
    guard version == CLOUTER_HTTPS_ABI else {
      return .failure(Posix.LoaderError(message: "\(path) has interface \(version), louter needs \(CLOUTER_HTTPS_ABI)"))
    }
    return .success(
      HTTPSLibrary(
        startFunction: unsafeBitCast(start, to: clouter_https_start_fn.self),
        cancelFunction: unsafeBitCast(cancel, to: clouter_https_cancel_fn.self)))
  }

  /// Starts `request`; the exchange's id, or 0 when the library refused the URL.
  func start(_ request: UpstreamRequest, timeoutSeconds: Int, context: UnsafeMutableRawPointer) -> Int {
    // The header pairs as C strings, alive for the call: the library copies what it keeps.
    let names = request.headers.map { UnsafePointer(strdup($0.name)) }
    let values = request.headers.map { UnsafePointer(strdup($0.value)) }
    defer { for string in names + values { free(UnsafeMutablePointer(mutating: string)) } }
    return withUnsafePointer(to: Self.events) { events in
      request.body.withUnsafeBufferPointer { body in
        startFunction(
          request.method, request.url, names, values, names.count, body.baseAddress, body.count, timeoutSeconds,
          context, events)
      }
    }
  }

  func cancel(_ exchange: Int) { cancelFunction(exchange) }

  /// The callbacks the library reports to: each turns its context back into the `Exchange`.
  static let events = clouter_https_events(
    head: { context, status, names, values, count in
      guard let context else { return }
      let exchange = Unmanaged<URLSessionTransport.Exchange>.fromOpaque(context).takeUnretainedValue()
      var pairs: [(String, String)] = []
      if let names, let values {
        for index in 0..<max(0, count) {
          guard let name = names[index], let value = values[index] else { continue }
          pairs.append((String(cString: name), String(cString: value)))
        }
      }
      exchange.resolveHead(.success(UpstreamResponseHead(status: status, headers: UpstreamHeaders(pairs))))
    },
    data: { context, bytes, length in
      guard let context, let bytes, length > 0 else { return }
      let exchange = Unmanaged<URLSessionTransport.Exchange>.fromOpaque(context).takeUnretainedValue()
      exchange.body.push(Array(UnsafeBufferPointer(start: bytes, count: length)))
    },
    end: { context, kind, detail in
      guard let context else { return }
      // The library's last use of the context: its reference is released here.
      let exchange = Unmanaged<URLSessionTransport.Exchange>.fromOpaque(context).takeRetainedValue()
      exchange.end(kind: kind, detail: detail.map { String(cString: $0) } ?? "")
    })
}
