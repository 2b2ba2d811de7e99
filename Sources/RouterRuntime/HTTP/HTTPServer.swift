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
  var deadline: ContinuousClock.Instant?
  var deadlineStatus = 0

  init(id: UInt64, fd: Int32, parser: HTTPRequestParser) {
    self.id = id
    self.fd = fd
    self.parser = parser
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
      let timeout: Int32 = connections.isEmpty ? 1000 : 100
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
          try? Posix.epollControl(epoll, Posix.epollDelete, listener, events: 0, token: Self.listenerToken)
          Posix.close(listener)
          listener = -1
        }
      case .stop:
        running = false
      }
    }
  }

  private func acceptAll() {
    while listener >= 0 {
      guard case .done(let fd)? = try? Posix.accept(listener) else { return }
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
          maxBodyBytes: configuration.maxBodyBytes))
      connection.deadline = ContinuousClock.now.advanced(by: configuration.headTimeout)
      connection.deadlineStatus = 408
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
        failRequest(connection, status: error.status, message: error.message)
        return
      }
    }
    if connection.parser.isReadingHead, connection.deadlineStatus != 408 || connection.deadline == nil {
      connection.deadline = ContinuousClock.now.advanced(by: configuration.headTimeout)
      connection.deadlineStatus = 408
    } else if !connection.parser.isIdle, !connection.parser.isReadingHead {
      connection.deadline = ContinuousClock.now.advanced(by: configuration.bodyTimeout)
      connection.deadlineStatus = 408
    }
    startNextRequest(connection)
    if !connection.outbound.isEmpty { flush(connection) }
  }

  private func failRequest(_ connection: Connection, status: Int, message: String) {
    let body = Array(
      "{\"error\":{\"code\":\(status),\"message\":\"\(message)\",\"status\":\"\(status == 408 ? "DEADLINE_EXCEEDED" : status == 413 || status == 431 ? "INVALID_ARGUMENT" : status >= 500 ? "UNIMPLEMENTED" : "INVALID_ARGUMENT")\"}}"
        .utf8)
    let head =
      "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\ncontent-type: application/json\r\n"
      + "content-length: \(body.count)\r\nconnection: close\r\n\r\n"
    connection.outbound.append(contentsOf: Array(head.utf8) + body)
    connection.closeAfterFlush = true
    connection.deadline = nil
    flush(connection)
  }

  private func startNextRequest(_ connection: Connection) {
    guard !connection.inFlight, !connection.closeAfterFlush, !connection.readyRequests.isEmpty else { return }
    var request = connection.readyRequests.removeFirst()
    if listener < 0 { request.keepAlive = false }
    connection.inFlight = true
    connection.deadline = nil
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
      return
    }
    connection.inFlight = false
    connection.task = nil
    activeRequests.subtract(1, ordering: .relaxed)
    if close {
      connection.closeAfterFlush = true
      return
    }
    connection.deadline = ContinuousClock.now.advanced(by: configuration.idleTimeout)
    connection.deadlineStatus = 0
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
      guard let deadline = connection.deadline, deadline < now, !connection.inFlight else { continue }
      if connection.deadlineStatus == 408, !connection.parser.isIdle {
        failRequest(connection, status: 408, message: "the request did not arrive in time")
      } else {
        close(connection)
      }
    }
  }
}
