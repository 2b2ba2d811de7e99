import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// The HTTP/1.1 server: `workers` reactors, each owning the client connections it was given and running
/// their handlers on its own thread.
///
/// One listener on the first reactor accepts and hands each connection to the reactor with the fewest
/// open connections (one wake-up per connection, never per request). Not `SO_REUSEPORT`: with it a second
/// `louter serve` started by the same user on the same port would silently take a share of the clients,
/// and the kernel's 4-tuple hash spreads a few long-lived keep-alive connections unevenly.
public final class HTTPServer: Sendable {
  let state: ServerState

  /// Creates a server; nothing is bound until `start`.
  public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
    state = ServerState(configuration: configuration, handler: handler)
  }

  /// Binds, starts the reactors' threads, and returns the bound port.
  public func start() throws(IOError) -> Int {
    try state.start()
  }

  /// Requests being handled now.
  public var activeRequestCount: Int { state.activeRequests.load(ordering: .relaxed) }

  /// Open connections now.
  public var connectionCount: Int { state.openConnections.load(ordering: .relaxed) }

  /// Responses being streamed now: head sent, end not yet.
  public var activeStreamCount: Int { state.activeStreams.load(ordering: .relaxed) }

  /// Stops accepting new connections; idle keep-alive connections close, busy ones after their answer.
  public func stopAccepting() { state.stopAccepting() }

  /// Closes everything at once, without waiting (for tests that stop a peer abruptly).
  func stopNow() {
    for worker in state.workers { worker.reactor.requestStop() }
  }

  /// Stops accepting, lets in-flight requests and streams finish within `gracePeriod`, then closes everything.
  public func shutdown(gracePeriod: Duration) async {
    await state.shutdown(gracePeriod: gracePeriod)
  }
}

/// What the server's reactors share: configuration, handler, counters, and the shutdown hand-shake.
final class ServerState: Sendable {
  let configuration: HTTPServerConfiguration
  let handler: any HTTPHandler
  let activeRequests = Atomic<Int>(0)
  let openConnections = Atomic<Int>(0)
  let activeStreams = Atomic<Int>(0)
  /// The most connections open at once since memory was last given back (see `MemoryTrimPolicy`).
  let connectionsHighWater = Atomic<Int>(0)
  /// Workers, set once by `start`.
  private let started = Mutex<[ServerWorker]>([])
  /// The shutdown waiting for in-flight requests to end.
  private let quiet = Mutex<(draining: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

  init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
    self.configuration = configuration
    self.handler = handler
  }

  var workers: [ServerWorker] { started.withLock { $0 } }

  func start() throws(IOError) -> Int {
    let count = max(1, configuration.workers)
    var workers: [ServerWorker] = []
    for index in 0..<count {
      workers.append(
        ServerWorker(
          reactor: try Reactor(
            name: "louter-worker-\(index)",
            pollWindow: PollWindow(maximum: configuration.idlePoll ? PollWindow.idlePollMaximum : 0)),
          server: self))
    }
    let (fd, port) = try Posix.listen(host: configuration.host, port: configuration.port)
    let listener = Listener(fd: fd, worker: workers[0], server: self)
    started.withLock { $0 = workers }
    for worker in workers { worker.reactor.start() }
    let first = workers[0]
    first.reactor.execute { [self] in
      listener.open()
      scheduleMemoryCheck(on: first.reactor)
    }
    return port
  }

  /// A connection opened: `open` are open now.
  func connectionOpened(nowOpen open: Int) {
    var peak = connectionsHighWater.load(ordering: .relaxed)
    while open > peak {
      let (exchanged, current) = connectionsHighWater.compareExchange(
        expected: peak, desired: open, ordering: .relaxed)
      if exchanged { break }
      peak = current
    }
  }

  /// Every `MemoryTrimPolicy.interval` on the first loop: after a burst has ended, the memory its
  /// connections used goes back to the kernel. glibc keeps freed memory in its arenas: without this, a
  /// gateway that once held 10,000 streams holds their 400 MiB for good (measured: 414 → 34 MiB).
  private func scheduleMemoryCheck(on reactor: Reactor) {
    _ = reactor.schedule(at: .now.advanced(by: MemoryTrimPolicy.interval)) { [self] in
      let open = openConnections.load(ordering: .relaxed)
      let peak = connectionsHighWater.load(ordering: .relaxed)
      if MemoryTrimPolicy.shouldTrim(openNow: open, peakSinceLastTrim: peak) {
        connectionsHighWater.store(open, ordering: .relaxed)
        // Parked handler tasks beyond a few end, freeing the frames they kept from the burst.
        for worker in workers {
          worker.reactor.execute { worker.reactor.handlerTasks.shrink(keeping: MemoryTrimPolicy.parkedTasksKept) }
        }
        // A moment later, once those tasks have ended on their loops; off the loop, as trimming a large heap
        // walks every free chunk.
        _ = reactor.schedule(at: .now.advanced(by: MemoryTrimPolicy.trimDelay)) {
          DispatchQueue.global(qos: .utility).async { _ = Posix.returnFreeMemory() }
        }
      }
      scheduleMemoryCheck(on: reactor)
    }
  }

  /// The worker that takes the next connection: the one with the fewest open.
  func leastLoadedWorker() -> ServerWorker? {
    workers.min { $0.connections.load(ordering: .relaxed) < $1.connections.load(ordering: .relaxed) }
  }

  func stopAccepting() {
    for worker in workers { worker.reactor.execute { worker.drain() } }
  }

  /// A request ended: wakes a shutdown waiting for the last one.
  func requestEnded() {
    guard activeRequests.subtract(1, ordering: .relaxed).newValue == 0 else { return }
    wakeQuietWaiter(onlyIfIdle: true)
  }

  private func wakeQuietWaiter(onlyIfIdle: Bool) {
    let waiter = quiet.withLock { quiet -> CheckedContinuation<Void, Never>? in
      guard quiet.draining, !onlyIfIdle || activeRequests.load(ordering: .relaxed) == 0 else { return nil }
      defer { quiet.waiter = nil }
      return quiet.waiter
    }
    waiter?.resume()
  }

  func shutdown(gracePeriod: Duration) async {
    stopAccepting()
    let workers = self.workers
    if let first = workers.first {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        quiet.withLock { $0 = (true, continuation) }
        // Either the last request ends, or the grace period does: whichever comes first resumes.
        wakeQuietWaiter(onlyIfIdle: true)
        let deadline = MonotonicInstant.now.advanced(by: gracePeriod)
        first.reactor.execute { [self] in
          _ = first.reactor.schedule(at: deadline) { self.wakeQuietWaiter(onlyIfIdle: false) }
        }
      }
    }
    for worker in workers { await worker.reactor.stop() }
  }
}

/// One reactor serving connections. `connections` is read by the acceptor on another thread; `open` is
/// loop-thread state.
final class ServerWorker: @unchecked Sendable {
  let reactor: Reactor
  let server: ServerState
  let connections = Atomic<Int>(0)
  private var open: [ObjectIdentifier: ServerConnection] = [:]
  private(set) var isDraining = false
  /// The listener, on the first worker only.
  var listener: Listener?

  init(reactor: Reactor, server: ServerState) {
    self.reactor = reactor
    self.server = server
  }

  /// Takes an accepted socket (on the loop thread).
  func adopt(_ fd: Int32) {
    if isDraining {
      Posix.close(fd)
      return
    }
    let connection = ServerConnection(fd: fd, worker: self, now: .now)
    do {
      try connection.register()
    } catch {
      Posix.close(fd)
      return
    }
    open[ObjectIdentifier(connection)] = connection
    connections.add(1, ordering: .relaxed)
    server.connectionOpened(nowOpen: server.openConnections.add(1, ordering: .relaxed).newValue)
  }

  /// A connection closed (on the loop thread).
  func closed(_ connection: ServerConnection) {
    guard open.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
    connections.subtract(1, ordering: .relaxed)
    server.openConnections.subtract(1, ordering: .relaxed)
  }

  /// The server stops: every connection drains.
  func drain() {
    isDraining = true
    listener?.close()
    for connection in Array(open.values) { connection.serverDraining() }
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

/// The listening socket, on the first worker's reactor; loop-thread state.
final class Listener: ReactorSource, @unchecked Sendable {
  private let fd: Int32
  private let worker: ServerWorker
  private let server: ServerState
  private var token: UInt64?
  private var closed = false

  init(fd: Int32, worker: ServerWorker, server: ServerState) {
    self.fd = fd
    self.worker = worker
    self.server = server
  }

  /// Starts waiting for connections (or again after a back-off).
  func open() {
    guard !closed, token == nil else { return }
    do {
      token = try worker.reactor.register(fd, events: Posix.epollIn, source: self)
    } catch {
      // Even epoll is out of memory: try again after another back-off.
      pause()
    }
    worker.listener = self
    if worker.isDraining { close() }
  }

  /// Most connections accepted per wake-up: the listener is level-triggered, so the rest come next time
  /// and reads of open connections are not starved meanwhile.
  private static let acceptBatch = 256

  func ready(_ events: UInt32) {
    for _ in 0..<Self.acceptBatch {
      guard token != nil else { return }
      let fd: Int32
      do {
        guard case .done(let accepted) = try Posix.accept(self.fd) else { return }
        fd = accepted
      } catch {
        switch AcceptFailure(errno: error.errno) {
        case .skip: continue
        case .pause:
          pause()
          return
        }
      }
      if server.openConnections.load(ordering: .relaxed) >= server.configuration.maxConnections {
        Posix.close(fd)
        continue
      }
      guard let target = server.leastLoadedWorker(), target !== worker else {
        worker.adopt(fd)
        continue
      }
      // Counted at once, so the next accept in this batch sees it.
      target.reactor.execute { target.adopt(fd) }
    }
  }

  // Out of descriptors (EMFILE/ENFILE), the pending connection stays in the backlog and the level-triggered
  // listener stays readable, so polling it would spin. The listener leaves the epoll set for a short back-off
  // instead; the waiting clients are served once descriptors free up (or give up themselves). The
  // spare-descriptor trick (close a reserved fd, accept, close, reopen) would shed them at once, but other
  // threads (URLSession, the request log) open descriptors too and may take the freed one first.
  private func pause() {
    if let token { worker.reactor.deregister(fd, token: token) }
    token = nil
    _ = worker.reactor.schedule(at: MonotonicInstant.now.advanced(by: AcceptFailure.acceptBackoff)) { [self] in open() }
  }

  /// Stops accepting for good.
  func close() {
    guard !closed else { return }
    closed = true
    if let token { worker.reactor.deregister(fd, token: token) }
    token = nil
    Posix.close(fd)
  }

  func reactorStopping() { close() }
}

/// One client connection: its socket, outbound buffer, handler task and deadline timer, driven by a
/// `ServerConnectionMachine`. Loop-thread state only: the responder reaches it through its reactor.
final class ServerConnection: ReactorSource, DeferredWriter, @unchecked Sendable {
  let fd: Int32
  let worker: ServerWorker
  var reactor: Reactor { worker.reactor }
  private var token: UInt64 = 0
  private var machine: ServerConnectionMachine
  private var outbound: [UInt8] = []
  private var outboundOffset = 0
  private var waitingForWritable = false
  private var readingPaused = false
  private var closeWhenWritten = false
  /// Bytes are queued and the reactor will call `writeQueued` before it waits again.
  private var writeScheduled = false
  private(set) var isClosed = false
  /// `write` calls made on the socket (read by tests: queued bytes leave together).
  private(set) var writeCalls = 0
  private var requestActive = false
  /// The active request's answer is a stream (counted in `activeStreams` until the request ends).
  private var requestStreaming = false
  /// The active request's handler, on one of the loop's handler tasks.
  private var runningHandler: HandlerTasks.Ticket?
  private var responder: HTTPResponder?
  /// A streamed write waiting for the socket to take what is queued.
  private var roomWaiter: UnsafeContinuation<Void, Never>?
  /// The most bytes ever queued unsent: what backpressure bounds (read by tests).
  private(set) var peakQueued = 0
  private var timer: (id: TimerHeap<() -> Void>.ID, expiry: MonotonicInstant)?

  init(fd: Int32, worker: ServerWorker, now: MonotonicInstant) {
    self.fd = fd
    self.worker = worker
    machine = ServerConnectionMachine(configuration: worker.server.configuration, acceptedAt: now)
  }

  func register() throws(IOError) {
    token = try reactor.register(fd, events: interest, source: self)
    if let expiry = machine.deadline.expiry { arm(expiry) }
  }

  private var interest: UInt32 {
    var events = Posix.epollReadHangUp
    if !readingPaused { events |= Posix.epollIn }
    if waitingForWritable { events |= Posix.epollOut }
    return events
  }

  // MARK: events

  func ready(_ events: UInt32) {
    if events & (Posix.epollIn | Posix.epollHangUp | Posix.epollError | Posix.epollReadHangUp) != 0 {
      if readingPaused {
        // Not reading: only a hang-up or error can bring us here.
        apply(machine.peerClosed())
      } else {
        readable()
      }
    }
    if !isClosed, events & Posix.epollOut != 0 { flush() }
  }

  private func readable() {
    let buffer = reactor.readBuffer
    while !isClosed, !readingPaused {
      let result: IOResult<Int>
      do {
        result = try Posix.read(fd, into: buffer)
      } catch {
        apply(machine.peerClosed())
        return
      }
      switch result {
      case .wouldBlock:
        return
      case .done(0):
        apply(machine.peerClosed())
        return
      case .done(let count):
        apply(machine.received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), now: .now))
        if count < buffer.count { return }
      }
    }
  }

  func serverDraining() { apply(machine.serverDraining()) }

  func reactorStopping() { close() }

  private func timerFired() {
    timer = nil
    apply(machine.deadlineReached(now: .now))
  }

  // MARK: the handler's calls (loop thread)

  /// Runs one of the machine's handler events for request `id`; fails once the connection is closed or
  /// that request's answer has ended.
  func handlerCall(
    for id: UInt64,
    _ event: (inout ServerConnectionMachine) throws(HTTPResponderError) -> [ServerConnectionMachine.Action]
  ) -> Result<Void, HTTPResponderError> {
    guard !isClosed else { return .failure(.connectionClosed) }
    guard machine.requestInFlight == id else { return .failure(.invalidState("the response has ended")) }
    do {
      apply(try event(&machine))
      return .success(())
    } catch {
      return .failure(error)
    }
  }

  /// True while more than the high-water mark is queued for the socket.
  var mustWaitForRoom: Bool {
    !isClosed && outbound.count - outboundOffset > worker.server.configuration.writeHighWater
  }

  /// Resumes `continuation` once the queue is below half the high-water mark, or the connection closed.
  func waitForRoom(_ continuation: UnsafeContinuation<Void, Never>) {
    if mustWaitForRoom {
      roomWaiter = continuation
    } else {
      continuation.resume()
    }
  }

  // MARK: actions

  private func apply(_ actions: [ServerConnectionMachine.Action]) {
    var responseComplete = false
    for action in actions {
      switch action {
      case .write(let bytes):
        if outbound.isEmpty {
          outbound = bytes
        } else {
          outbound.append(contentsOf: bytes)
        }
        peakQueued = max(peakQueued, outbound.count - outboundOffset)
      case .startHandler(let request, let id):
        startHandler(request, id: id)
      case .cancelHandler:
        if let runningHandler { reactor.handlerTasks.cancel(runningHandler) }
      case .responseEnded:
        endRequest()
        responseComplete = true
      case .pauseReading:
        readingPaused = true
        reactor.modify(fd, token: token, events: interest)
      case .resumeReading:
        readingPaused = false
        reactor.modify(fd, token: token, events: interest)
      case .closeAfterWriting:
        closeWhenWritten = true
      case .closeNow:
        close()
        return
      case .deadline(let expiry):
        arm(expiry)
      }
    }
    if isClosed { return }
    if responseComplete {
      // The answer is whole: it goes now, before its handler's epilogue (record, metrics, log) runs.
      flush()
      return
    }
    // Written when the loop's runnable jobs are done, together with whatever else they queue.
    if !writeScheduled, !waitingForWritable, outboundOffset < outbound.count || closeWhenWritten {
      writeScheduled = true
      reactor.writeWhenIdle(self)
    }
  }

  func writeQueued() {
    writeScheduled = false
    if !isClosed { flush() }
  }

  private func startHandler(_ request: HTTPRequest, id: UInt64) {
    let responder = HTTPResponder(connection: self, requestID: id)
    self.responder = responder
    requestActive = true
    worker.server.activeRequests.add(1, ordering: .relaxed)
    let handler = worker.server.handler
    runningHandler = reactor.handlerTasks.run {
      await handler.handle(request, responder: responder)
      await responder.handlerReturned()
    }
  }

  /// The active request's streamed head went out (from the responder, on the loop thread).
  func streamStarted() {
    guard requestActive, !requestStreaming else { return }
    requestStreaming = true
    worker.server.activeStreams.add(1, ordering: .relaxed)
  }

  private func endRequest() {
    guard requestActive else { return }
    requestActive = false
    if requestStreaming {
      requestStreaming = false
      worker.server.activeStreams.subtract(1, ordering: .relaxed)
    }
    responder = nil
    worker.server.requestEnded()
  }

  /// Keeps one timer at the earliest deadline asked for; a later one is re-armed when that fires.
  private func arm(_ expiry: MonotonicInstant) {
    if let timer {
      if timer.expiry <= expiry { return }
      reactor.cancel(timer.id)
    }
    let id = reactor.schedule(at: expiry) { [self] in timerFired() }
    timer = (id, expiry)
  }

  private func flush() {
    while outboundOffset < outbound.count {
      guard case .success(let result) = writeUnsent() else {
        apply(machine.peerClosed())
        return
      }
      switch result {
      case .wouldBlock:
        if !waitingForWritable {
          waitingForWritable = true
          reactor.modify(fd, token: token, events: interest)
        }
        compact()
        resumeWriterIfRoom()
        return
      case .done(let count):
        outboundOffset += count
      }
    }
    outbound.removeAll(keepingCapacity: outbound.count < 1 << 20)
    outboundOffset = 0
    if waitingForWritable {
      waitingForWritable = false
      reactor.modify(fd, token: token, events: interest)
    }
    resumeWriterIfRoom()
    if closeWhenWritten {
      Posix.shutdownWrite(fd)
      close()
    }
  }

  /// One `write` of the bytes not yet sent.
  private func writeUnsent() -> Result<IOResult<Int>, IOError> {
    writeCalls += 1
    return outbound.withUnsafeBytes { buffer in
      Result { () throws(IOError) in
        try Posix.write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[outboundOffset...]))
      }
    }
  }

  private func resumeWriterIfRoom() {
    guard let waiter = roomWaiter,
      outbound.count - outboundOffset <= worker.server.configuration.writeHighWater / 2
    else { return }
    roomWaiter = nil
    waiter.resume()
  }

  private func compact() {
    if outboundOffset > 64 * 1024, outboundOffset > outbound.count / 2 {
      outbound.removeFirst(outboundOffset)
      outboundOffset = 0
    }
  }

  private func close() {
    guard !isClosed else { return }
    // Bytes queued in this turn still get one try (an answer queued just before a deadline closes the
    // connection), as they would have had if written at once; what the socket refuses goes with it.
    if !waitingForWritable, outboundOffset < outbound.count { _ = writeUnsent() }
    isClosed = true
    responder?.markClosed()
    if let timer { reactor.cancel(timer.id) }
    timer = nil
    reactor.deregister(fd, token: token)
    Posix.close(fd)
    let wasActive = requestActive
    // Counted as ended before the cancel, whose handlers may run at once and look.
    endRequest()
    if wasActive, let runningHandler { reactor.handlerTasks.cancel(runningHandler) }
    runningHandler = nil
    if let waiter = roomWaiter {
      roomWaiter = nil
      waiter.resume()
    }
    worker.closed(self)
  }
}

/// When to give free memory back to the kernel: once the connections open have fallen to half the most
/// seen since the last time (a burst is over), and that peak was big enough to have mattered. A steady
/// load never trims; each decline by half trims once.
enum MemoryTrimPolicy {
  /// How often the first loop checks.
  static let interval: Duration = .seconds(5)
  /// Peaks below this many connections never trim: their memory is small.
  static let minimumPeak = 64
  /// Parked handler tasks each loop keeps through a trim (each holds the frames of its deepest request).
  static let parkedTasksKept = 16
  /// From ending the surplus parked tasks to giving memory back: they end in their loops' next turn.
  static let trimDelay: Duration = .milliseconds(100)

  static func shouldTrim(openNow: Int, peakSinceLastTrim: Int) -> Bool {
    peakSinceLastTrim >= minimumPeak && openNow <= peakSinceLastTrim / 2
  }
}
