import Foundation
import Synchronization

/// The HTTP/1.1 server: one epoll event-loop thread owns every socket; each request's handler runs
/// in its own task and hands response bytes back to the loop.
public final class HTTPServer: Sendable {
  let loop: EventLoop

  /// Creates a server; nothing is bound until `start`.
  public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
    loop = EventLoop(configuration: configuration, handler: handler)
  }

  /// Binds, starts the loop thread, and returns the bound port.
  public func start() throws(IOError) -> Int {
    try loop.start()
  }

  /// Requests being handled now.
  public var activeRequestCount: Int { loop.activeRequests.load(ordering: .relaxed) }

  /// Open connections now.
  public var connectionCount: Int { loop.openConnections.load(ordering: .relaxed) }

  /// Stops accepting new connections.
  public func stopAccepting() { loop.submit(.stopAccepting) }

  /// Stops accepting, lets in-flight requests and streams finish within `gracePeriod`, then closes everything.
  public func shutdown(gracePeriod: Duration) async {
    loop.submit(.stopAccepting)
    let deadline = ContinuousClock.now.advanced(by: gracePeriod)
    while loop.activeRequests.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(10))
    }
    await loop.stop()
  }
}

/// Commands from handler tasks to the loop thread.
enum LoopCommand: Sendable {
  case write(UInt64, [UInt8], endOfResponse: Bool, close: Bool)
  case abort(UInt64)
  case stopAccepting
  case stop
}

/// One client connection; touched only by the loop thread.
final class Connection {
  let id: UInt64
  let fd: Int32
  var parser: HTTPRequestParser
  var outbound: [UInt8] = []
  var outboundOffset = 0
  var waitingForWritable = false
  var channel: ResponseChannel?
  var task: Task<Void, Never>?
  var inFlight = false
  var closeAfterFlush = false
  var readyRequests: [HTTPRequest] = []
  var pendingInput: [UInt8] = []
  var deadline: ConnectionDeadline

  init(id: UInt64, fd: Int32, parser: HTTPRequestParser, deadline: ConnectionDeadline) {
    self.id = id
    self.fd = fd
    self.parser = parser
    self.deadline = deadline
  }

  /// What the connection waits for now.
  var phase: ConnectionPhase {
    ConnectionPhase(handling: inFlight, closing: closeAfterFlush, parser: parser.progress)
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
  let expiry: ContinuousClock.Instant?

  /// A new connection: idle, but with `headTimeout` to send its first byte.
  static func accepted(at now: ContinuousClock.Instant, _ configuration: HTTPServerConfiguration) -> Self {
    Self(phase: .idle, expiry: now.advanced(by: configuration.headTimeout))
  }

  /// The deadline once the connection is in `phase` at `now`: unchanged if it already was.
  func entering(
    _ phase: ConnectionPhase, at now: ContinuousClock.Instant, _ configuration: HTTPServerConfiguration
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
  func verdict(at now: ContinuousClock.Instant) -> Verdict {
    guard let expiry, expiry < now else { return .wait }
    switch phase {
    case .head, .body: return .requestTimeout
    case .idle, .closing, .handling: return .close
    }
  }
}

/// What the loop does when `accept` fails.
enum AcceptFailure: Sendable, Equatable {
  /// The failure belonged to one pending connection, which the kernel dropped: accept the next.
  case skip
  /// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or anything unexpected: stop polling the
  /// listener for `acceptBackoff`. Polling it meanwhile would spin, as the listener stays readable.
  case pause

  /// How long the listener rests after `pause`.
  static let acceptBackoff: Duration = .milliseconds(100)

  /// The action for accept's errno.
  init(errno code: Int32) {
    switch code {
    // accept(2): aborted connections, and network errors Linux passes on for a pending connection.
    case ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP,
      ENETUNREACH, ETIMEDOUT:
      self = .skip
    default:
      self = .pause
    }
  }
}

/// The epoll loop. State is confined to the loop thread; only `commands` and `jobs` are shared.
///
/// The loop is also the task executor its handlers prefer: a request's handler runs on the loop
/// thread, so answering it needs no thread hop, and an upstream answer resumes it with one wake-up.
final class EventLoop: @unchecked Sendable, TaskExecutor {
  let configuration: HTTPServerConfiguration
  let handler: any HTTPHandler
  let activeRequests = Atomic<Int>(0)
  let openConnections = Atomic<Int>(0)
  private let commands = Mutex<[LoopCommand]>([])
  private let jobs = Mutex<[UnownedJob]>([])
  private let loopThread = Mutex<pthread_t?>(nil)
  private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
  private let isStopped = Atomic<Bool>(false)

  // Loop-thread state.
  private var epoll: Int32 = -1
  private var wakeFD: Int32 = -1
  private var listener: Int32 = -1
  /// While set, the listener is out of the epoll set until then (see `AcceptFailure.pause`).
  private var listenerPausedUntil: ContinuousClock.Instant?
  private var connections: [UInt64: Connection] = [:]
  private var nextID: UInt64 = 2
  private var running = true
  private var lastSweep = ContinuousClock.now
  private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

  private static let listenerToken: UInt64 = 0
  private static let wakeToken: UInt64 = 1

  init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
    self.configuration = configuration
    self.handler = handler
  }

  deinit { readBuffer.deallocate() }

  func start() throws(IOError) -> Int {
    Posix.ignoreSIGPIPE()
    let (fd, port) = try Posix.listen(host: configuration.host, port: configuration.port)
    listener = fd
    epoll = try Posix.epollCreate()
    wakeFD = try Posix.eventFD()
    try Posix.epollControl(epoll, Posix.epollAdd, listener, events: Posix.epollIn, token: Self.listenerToken)
    try Posix.epollControl(epoll, Posix.epollAdd, wakeFD, events: Posix.epollIn, token: Self.wakeToken)
    let thread = Thread { [self] in run() }
    thread.name = "louter-http"
    thread.start()
    return port
  }

  /// Hands a command to the loop thread and wakes it.
  func submit(_ command: LoopCommand) {
    commands.withLock { $0.append(command) }
    if !isLoopThread { Posix.signalEventFD(wakeFD) }
  }

  /// True on the loop thread, where queued work runs before the next wait without a wake-up.
  private var isLoopThread: Bool {
    guard let thread = loopThread.withLock({ $0 }) else { return false }
    return pthread_equal(thread, pthread_self()) != 0
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let unowned = UnownedJob(job)
    jobs.withLock { $0.append(unowned) }
    if !isLoopThread { Posix.signalEventFD(wakeFD) }
  }

  /// Runs queued commands and jobs until none is left; jobs may queue more of both.
  private func drainWork() {
    while true {
      runCommands()
      let pending = jobs.withLock { queue -> [UnownedJob] in
        let taken = queue
        queue.removeAll(keepingCapacity: true)
        return taken
      }
      if pending.isEmpty {
        if commands.withLock({ $0.isEmpty }) { return }
        continue
      }
      for job in pending { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
  }

  func stop() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      if isStopped.load(ordering: .acquiring) {
        continuation.resume()
        return
      }
      stopped.withLock { $0 = continuation }
      submit(.stop)
    }
  }

  // MARK: the loop

  private func run() {
    let capacity: Int32 = 256
    let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(capacity))
    let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(capacity))
    defer {
      events.deallocate()
      tokens.deallocate()
    }
    loopThread.withLock { $0 = pthread_self() }
    while running {
      let timeout: Int32 = connections.isEmpty && listenerPausedUntil == nil ? 1000 : 100
      let count =
        (try? Posix.epollWait(epoll, events: events, tokens: tokens, capacity: capacity, timeoutMilliseconds: timeout))
        ?? 0
      for index in 0..<count {
        let token = tokens[index]
        let mask = events[index]
        switch token {
        case Self.listenerToken: acceptAll()
        case Self.wakeToken:
          Posix.drainEventFD(wakeFD)
        default:
          guard let connection = connections[token] else { continue }
          if mask & (Posix.epollIn | Posix.epollHangUp | Posix.epollError | Posix.epollReadHangUp) != 0 {
            readable(connection)
          }
          if mask & Posix.epollOut != 0, connections[token] != nil { flush(connection) }
        }
      }
      drainWork()
      let now = ContinuousClock.now
      if let until = listenerPausedUntil, now >= until { resumeListener() }
      if now - lastSweep > .milliseconds(100) {
        lastSweep = now
        sweepDeadlines(now: now)
      }
    }
    for connection in Array(connections.values) { close(connection) }
    if listener >= 0 { Posix.close(listener) }
    Posix.close(epoll)
    // The eventfd stays open: a late submit from another thread must never write into a descriptor
    // number the kernel has handed to a new socket.
    isStopped.store(true, ordering: .releasing)
    stopped.withLock { continuation in
      continuation?.resume()
      continuation = nil
    }
  }

  private func runCommands() {
    let pending = commands.withLock { queue -> [LoopCommand] in
      let taken = queue
      queue.removeAll(keepingCapacity: true)
      return taken
    }
    for command in pending {
      switch command {
      case .write(let id, let bytes, let end, let close):
        guard let connection = connections[id] else { continue }
        connection.outbound.append(contentsOf: bytes)
        if end { responseEnded(connection, close: close) }
        flush(connection)
      case .abort(let id):
        guard let connection = connections[id] else { continue }
        connection.closeAfterFlush = true
        responseEnded(connection, close: true)
        flush(connection)
      case .stopAccepting:
        if listener >= 0 {
          if listenerPausedUntil == nil {
            try? Posix.epollControl(epoll, Posix.epollDelete, listener, events: 0, token: Self.listenerToken)
          }
          Posix.close(listener)
          listener = -1
          listenerPausedUntil = nil
        }
      case .stop:
        running = false
      }
    }
  }

  /// Most connections accepted per wake-up: the listener is level-triggered, so the rest come next time
  /// and reads of open connections are not starved meanwhile.
  private static let acceptBatch = 256

  private func acceptAll() {
    for _ in 0..<Self.acceptBatch {
      guard listener >= 0, listenerPausedUntil == nil else { return }
      let fd: Int32
      do {
        guard case .done(let accepted) = try Posix.accept(listener) else { return }
        fd = accepted
      } catch {
        switch AcceptFailure(errno: error.errno) {
        case .skip: continue
        case .pause:
          pauseListener()
          return
        }
      }
      if connections.count >= configuration.maxConnections {
        Posix.close(fd)
        continue
      }
      let id = nextID
      nextID += 1
      let connection = Connection(
        id: id, fd: fd,
        parser: HTTPRequestParser(
          maxHeadBytes: configuration.maxHeadBytes, maxHeaders: configuration.maxHeaders,
          maxBodyBytes: configuration.maxBodyBytes),
        deadline: .accepted(at: ContinuousClock.now, configuration))
      do {
        try Posix.epollControl(
          epoll, Posix.epollAdd, fd, events: Posix.epollIn | Posix.epollReadHangUp, token: id)
      } catch {
        Posix.close(fd)
        continue
      }
      connections[id] = connection
      openConnections.add(1, ordering: .relaxed)
    }
  }

  // Out of descriptors (EMFILE/ENFILE), the pending connection stays in the backlog and the level-triggered
  // listener stays readable, so polling it would spin. The listener leaves the epoll set for a short back-off
  // instead; the waiting clients are served once descriptors free up (or give up themselves). The
  // spare-descriptor trick (close a reserved fd, accept, close, reopen) would shed them at once, but other
  // threads (URLSession, the upstream client) open descriptors too and may take the freed one first.
  private func pauseListener() {
    try? Posix.epollControl(epoll, Posix.epollDelete, listener, events: 0, token: Self.listenerToken)
    listenerPausedUntil = ContinuousClock.now.advanced(by: AcceptFailure.acceptBackoff)
  }

  private func resumeListener() {
    listenerPausedUntil = nil
    guard listener >= 0 else { return }
    do {
      try Posix.epollControl(epoll, Posix.epollAdd, listener, events: Posix.epollIn, token: Self.listenerToken)
    } catch {
      // Even epoll is out of memory: try again after another back-off.
      listenerPausedUntil = ContinuousClock.now.advanced(by: AcceptFailure.acceptBackoff)
    }
  }

  private func readable(_ connection: Connection) {
    while connections[connection.id] != nil {
      let result: IOResult<Int>
      do {
        result = try Posix.read(connection.fd, into: readBuffer)
      } catch {
        close(connection)
        return
      }
      switch result {
      case .wouldBlock:
        return
      case .done(0):
        // The client went away: cancel whatever it was waiting for.
        close(connection)
        return
      case .done(let count):
        let bytes = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
        if connection.closeAfterFlush { continue }
        if connection.inFlight || !connection.readyRequests.isEmpty {
          connection.pendingInput.append(contentsOf: bytes)
          if connection.pendingInput.count > configuration.maxHeadBytes + configuration.maxBodyBytes {
            close(connection)
            return
          }
        } else {
          process(connection, connection.parser.feed(bytes))
        }
        if count < readBuffer.count { return }
      }
    }
  }

  private func process(_ connection: Connection, _ events: [HTTPRequestParser.Event]) {
    for event in events {
      switch event {
      case .expectContinue:
        connection.outbound.append(contentsOf: Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
      case .request(let request):
        connection.readyRequests.append(request)
      case .error(let error):
        failRequest(connection, error)
        return
      }
    }
    updateDeadline(connection)
    startNextRequest(connection)
    if !connection.outbound.isEmpty { flush(connection) }
  }

  /// Moves the connection's deadline along with its phase (a phase it stays in keeps its deadline).
  private func updateDeadline(_ connection: Connection) {
    connection.deadline = connection.deadline.entering(connection.phase, at: ContinuousClock.now, configuration)
  }

  /// The whole answer to a request that failed to parse or arrive: a Gemini error body, then close.
  static func errorResponse(_ error: HTTPParseError) -> [UInt8] {
    let body = error.geminiError.bodyBytes
    let head =
      "HTTP/1.1 \(error.status) \(HTTPStatus.reason(error.status))\r\ncontent-type: application/json\r\n"
      + "content-length: \(body.count)\r\nconnection: close\r\n\r\n"
    return Array(head.utf8) + body
  }

  private func failRequest(_ connection: Connection, _ error: HTTPParseError) {
    connection.outbound.append(contentsOf: Self.errorResponse(error))
    connection.closeAfterFlush = true
    updateDeadline(connection)
    flush(connection)
  }

  private func startNextRequest(_ connection: Connection) {
    guard !connection.inFlight, !connection.closeAfterFlush, !connection.readyRequests.isEmpty else { return }
    var request = connection.readyRequests.removeFirst()
    if listener < 0 { request.keepAlive = false }
    connection.inFlight = true
    updateDeadline(connection)
    activeRequests.add(1, ordering: .relaxed)
    let channel = ResponseChannel(
      highWater: configuration.writeHighWater, fd: connection.fd,
      directAllowed: connection.outboundOffset >= connection.outbound.count)
    connection.channel = channel
    let responder = HTTPResponder(
      connectionID: connection.id, loop: self, channel: channel, version: request.version, keepAlive: request.keepAlive)
    let handler = self.handler
    connection.task = Task(executorPreference: self) {
      await handler.handle(request, responder: responder)
      responder.handlerReturned()
    }
  }

  private func responseEnded(_ connection: Connection, close: Bool) {
    guard connection.inFlight else {
      if close { connection.closeAfterFlush = true }
      updateDeadline(connection)
      return
    }
    connection.inFlight = false
    connection.task = nil
    activeRequests.subtract(1, ordering: .relaxed)
    if close {
      connection.closeAfterFlush = true
      updateDeadline(connection)
      return
    }
    updateDeadline(connection)
    if !connection.readyRequests.isEmpty {
      startNextRequest(connection)
    } else if !connection.pendingInput.isEmpty {
      let input = connection.pendingInput
      connection.pendingInput = []
      process(connection, connection.parser.feed(input))
    }
  }

  private func flush(_ connection: Connection) {
    while connection.outboundOffset < connection.outbound.count {
      let result: IOResult<Int>
      do {
        result = try connection.outbound.withUnsafeBytes { buffer throws(IOError) in
          try Posix.write(connection.fd, from: UnsafeRawBufferPointer(rebasing: buffer[connection.outboundOffset...]))
        }
      } catch {
        close(connection)
        return
      }
      switch result {
      case .wouldBlock:
        if !connection.waitingForWritable {
          connection.waitingForWritable = true
          try? Posix.epollControl(
            epoll, Posix.epollModify, connection.fd,
            events: Posix.epollIn | Posix.epollReadHangUp | Posix.epollOut, token: connection.id)
        }
        compact(connection)
        return
      case .done(let count):
        connection.outboundOffset += count
        connection.channel?.sent(count)
      }
    }
    connection.outbound.removeAll(keepingCapacity: connection.outbound.count < 1 << 20)
    connection.outboundOffset = 0
    if connection.waitingForWritable {
      connection.waitingForWritable = false
      try? Posix.epollControl(
        epoll, Posix.epollModify, connection.fd, events: Posix.epollIn | Posix.epollReadHangUp, token: connection.id)
    }
    if connection.closeAfterFlush, !connection.inFlight {
      Posix.shutdownWrite(connection.fd)
      close(connection)
    }
  }

  private func compact(_ connection: Connection) {
    if connection.outboundOffset > 64 * 1024, connection.outboundOffset > connection.outbound.count / 2 {
      connection.outbound.removeFirst(connection.outboundOffset)
      connection.outboundOffset = 0
    }
  }

  private func close(_ connection: Connection) {
    guard connections.removeValue(forKey: connection.id) != nil else { return }
    openConnections.subtract(1, ordering: .relaxed)
    // Mark the channel closed first: a handler writing directly holds its lock, so after this no
    // handler can write to a descriptor number that the kernel may hand to a new connection.
    connection.channel?.close()
    try? Posix.epollControl(epoll, Posix.epollDelete, connection.fd, events: 0, token: connection.id)
    Posix.close(connection.fd)
    if connection.inFlight {
      connection.inFlight = false
      activeRequests.subtract(1, ordering: .relaxed)
      connection.task?.cancel()
    }
    connection.task = nil
  }

  private func sweepDeadlines(now: ContinuousClock.Instant) {
    for connection in Array(connections.values) {
      switch connection.deadline.verdict(at: now) {
      case .wait: break
      case .requestTimeout:
        failRequest(connection, HTTPParseError(status: 408, message: "the request did not arrive in time"))
      case .close: close(connection)
      }
    }
  }
}
