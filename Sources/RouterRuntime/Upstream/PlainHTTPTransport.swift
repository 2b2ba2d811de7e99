import Foundation
import Glibc
import Synchronization

/// Our own HTTP/1.1 client for plain `http://` backends (a local vLLM or Ollama): one epoll thread,
/// pooled keep-alive connections with TCP_NODELAY, bodies streamed chunk by chunk.
///
/// Measured against URLSession on loopback it adds a fraction of the latency (see README); https
/// backends keep using `URLSessionTransport` for TLS.
public final class PlainHTTPTransport: UpstreamTransport, Sendable {
  /// The transport every plain-http backend shares.
  public static let shared = PlainHTTPTransport()

  let loop = ClientLoop()

  /// Creates a transport with its own loop thread.
  public init() {}

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    // Nothing outside its grammar reaches the request line or a header line: a CR or LF there would
    // let text from a client start a second request, with the backend's key, on this connection.
    try request.checkedForWire()
    guard let target = PlainURL(request.url) else { throw .invalidRequest("not a plain http URL") }
    guard WireGrammar.isRequestTarget(target.pathAndQuery) else {
      throw .invalidRequest(UpstreamTargetError(.requestTarget, "is not an origin-form path").description)
    }
    guard let address = loop.resolve(target.host) else { throw .connectFailed("cannot resolve '\(target.host)'") }
    var head = "\(request.method) \(target.pathAndQuery) HTTP/1.1\r\nhost: \(target.hostHeader)\r\n"
    for header in request.headers where header.name.lowercased() != "host" {
      head += "\(header.name): \(header.value)\r\n"
    }
    head += "content-length: \(request.body.count)\r\n\r\n"
    let now = ContinuousClock.now
    let exchange = ClientExchange(
      request: Array(head.utf8) + request.body, idleTimeout: request.streamIdleTimeout, loop: loop,
      connectTimeout: request.connectTimeout, firstByteTimeout: request.firstByteTimeout,
      totalTimeout: request.totalTimeout, start: now)
    loop.submit(.start(exchange, ClientLoop.Key(address: address.s_addr, port: target.port), address, target.port))
    // The loop enforces the first-byte, idle and total deadlines: no timer task per request.
    switch await exchange.waitForHead() {
    case .success(let head): return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      exchange.body.cancel()
      throw error
    }
  }
}

/// `http://host[:port]/path?query`.
struct PlainURL {
  let host: String
  let port: Int
  let pathAndQuery: String
  var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

  init?(_ text: String) {
    guard text.lowercased().hasPrefix("http://") else { return nil }
    let rest = text.dropFirst(7)
    let authority = rest.prefix { $0 != "/" && $0 != "?" }
    pathAndQuery = rest.dropFirst(authority.count).isEmpty ? "/" : String(rest.dropFirst(authority.count))
    if let colon = authority.lastIndex(of: ":"), !authority.hasPrefix("[") {
      guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
      host = String(authority[..<colon])
      self.port = port
    } else {
      host = String(authority)
      port = 80
    }
    if host.isEmpty { return nil }
  }
}

/// One request/response on the client loop.
final class ClientExchange: Sendable {
  let request: [UInt8]
  let body: UpstreamBody
  let head = HeadLatch()
  let id: UInt64
  let connectDeadline: ContinuousClock.Instant
  let firstByteDeadline: ContinuousClock.Instant
  let totalDeadline: ContinuousClock.Instant
  let connectTimeout: Duration
  let firstByteTimeout: Duration
  let totalTimeout: Duration

  private static let counter = Atomic<UInt64>(1)

  init(
    request: [UInt8], idleTimeout: Duration, loop: ClientLoop, connectTimeout: Duration, firstByteTimeout: Duration,
    totalTimeout: Duration, start: ContinuousClock.Instant
  ) {
    self.request = request
    self.connectDeadline = start.advanced(by: connectTimeout)
    self.firstByteDeadline = start.advanced(by: firstByteTimeout)
    self.totalDeadline = start.advanced(by: totalTimeout)
    self.connectTimeout = connectTimeout
    self.firstByteTimeout = firstByteTimeout
    self.totalTimeout = totalTimeout
    let id = Self.counter.add(1, ordering: .relaxed).newValue
    self.id = id
    body = UpstreamBody(
      idleTimeout: idleTimeout, flowControl: { pause in loop.submit(.pause(id, pause)) },
      onCancel: { loop.submit(.cancel(id)) }, producerEnforcesDeadlines: true)
  }

  func resolveHead(_ value: Result<UpstreamResponseHead, UpstreamError>) { head.resolve(value) }

  func waitForHead() async -> Result<UpstreamResponseHead, UpstreamError> { await head.wait() }
}

/// The client's epoll thread: connections, the keep-alive pool, reading and writing.
final class ClientLoop: @unchecked Sendable {
  struct Key: Hashable {
    let address: UInt32
    let port: Int
  }

  enum Command {
    case start(ClientExchange, Key, in_addr, Int)
    case pause(UInt64, Bool)
    case cancel(UInt64)
  }

  final class Connection {
    let fd: Int32
    let key: Key
    let token: UInt64
    var exchange: ClientExchange?
    var parser = HTTPResponseParser()
    var outbound: [UInt8] = []
    var offset = 0
    var connecting: Bool
    var reused: Bool
    var keepAlive = true
    var paused = false
    var headReceived = false
    var lastActivity = ContinuousClock.now
    var address: in_addr
    var port: Int

    init(fd: Int32, key: Key, token: UInt64, connecting: Bool, reused: Bool, address: in_addr, port: Int) {
      self.fd = fd
      self.key = key
      self.token = token
      self.connecting = connecting
      self.reused = reused
      self.address = address
      self.port = port
    }
  }

  private let commands = Mutex<[Command]>([])
  private let started = Mutex(false)
  private let resolved = Mutex<[String: in_addr]>([:])
  private var epoll: Int32 = -1
  private var wakeFD: Int32 = -1
  // Loop-thread state.
  private var connections: [UInt64: Connection] = [:]
  private var byExchange: [UInt64: Connection] = [:]
  private var idle: [Key: [Connection]] = [:]
  private var nextToken: UInt64 = 2
  private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

  init() {}

  deinit { buffer.deallocate() }

  func resolve(_ host: String) -> in_addr? {
    if let cached = resolved.withLock({ $0[host] }) { return cached }
    guard let address = Posix.resolveIPv4(host) else { return nil }
    resolved.withLock { $0[host] = address }
    return address
  }

  func submit(_ command: Command) {
    startIfNeeded()
    commands.withLock { $0.append(command) }
    Posix.signalEventFD(wakeFD)
  }

  private func startIfNeeded() {
    started.withLock { started in
      guard !started else { return }
      started = true
      Posix.ignoreSIGPIPE()
      epoll = (try? Posix.epollCreate()) ?? -1
      wakeFD = (try? Posix.eventFD()) ?? -1
      try? Posix.epollControl(epoll, Posix.epollAdd, wakeFD, events: Posix.epollIn, token: 1)
      let thread = Thread { [self] in run() }
      thread.name = "louter-upstream"
      thread.start()
    }
  }

  private func run() {
    let capacity: Int32 = 256
    let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(capacity))
    let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(capacity))
    while true {
      // With exchanges in flight the loop wakes every 10 ms to check their deadlines; idle, once a second.
      let wait: Int32 = byExchange.isEmpty ? 1000 : 10
      let count =
        (try? Posix.epollWait(epoll, events: events, tokens: tokens, capacity: capacity, timeoutMilliseconds: wait))
        ?? 0
      for index in 0..<count {
        if tokens[index] == 1 {
          Posix.drainEventFD(wakeFD)
          continue
        }
        guard let connection = connections[tokens[index]] else { continue }
        let mask = events[index]
        if mask & Posix.epollOut != 0 { writable(connection) }
        if connections[connection.token] != nil, mask & (Posix.epollIn | Posix.epollHangUp | Posix.epollError) != 0 {
          readable(connection)
        }
      }
      let pending = commands.withLock { queue -> [Command] in
        let taken = queue
        queue.removeAll(keepingCapacity: true)
        return taken
      }
      for command in pending { run(command) }
      if !byExchange.isEmpty { sweepDeadlines() }
    }
  }

  private var lastSweep = ContinuousClock.now

  /// Fails exchanges whose first byte, next chunk or whole answer is late.
  private func sweepDeadlines() {
    let now = ContinuousClock.now
    guard now - lastSweep >= .milliseconds(2) else { return }
    lastSweep = now
    for connection in Array(byExchange.values) {
      guard let exchange = connection.exchange else { continue }
      if now >= exchange.totalDeadline {
        fail(connection, .timedOut(phase: .total(exchange.totalTimeout)))
      } else if connection.connecting, now >= exchange.connectDeadline {
        fail(connection, .timedOut(phase: .connect(exchange.connectTimeout)))
      } else if !connection.headReceived {
        if now >= exchange.firstByteDeadline {
          fail(connection, .timedOut(phase: .firstByte(exchange.firstByteTimeout)))
        }
      } else if let wanted = exchange.body.consumerDeadline, now >= wanted {
        fail(connection, .timedOut(phase: .firstToken))
      } else if !connection.paused, now - connection.lastActivity >= exchange.body.idleTimeout {
        fail(connection, .timedOut(phase: .idle(exchange.body.idleTimeout)))
      }
    }
  }

  private func run(_ command: Command) {
    switch command {
    case .start(let exchange, let key, let address, let port):
      start(exchange, key: key, address: address, port: port, allowReuse: true)
    case .pause(let id, let pause):
      guard let connection = byExchange[id], connection.paused != pause else { return }
      connection.paused = pause
      updateInterest(connection)
    case .cancel(let id):
      guard let connection = byExchange[id] else { return }
      connection.exchange?.resolveHead(.failure(.cancelled))
      close(connection)
    }
  }

  private func start(_ exchange: ClientExchange, key: Key, address: in_addr, port: Int, allowReuse: Bool) {
    if allowReuse, let connection = idle[key]?.popLast() {
      connection.reused = true
      attach(exchange, to: connection)
      return
    }
    do {
      let (fd, result) = try Posix.connect(to: address, port: port)
      let token = nextToken
      nextToken += 1
      var isConnecting = false
      if case .wouldBlock = result { isConnecting = true }
      let connection = Connection(
        fd: fd, key: key, token: token, connecting: isConnecting, reused: false, address: address, port: port)
      connections[token] = connection
      try Posix.epollControl(epoll, Posix.epollAdd, fd, events: Posix.epollIn | Posix.epollOut, token: token)
      attach(exchange, to: connection)
    } catch {
      exchange.resolveHead(.failure(.connectFailed(error.description)))
      exchange.body.finish(.connectFailed(error.description))
    }
  }

  private func attach(_ exchange: ClientExchange, to connection: Connection) {
    connection.exchange = exchange
    connection.headReceived = false
    connection.lastActivity = ContinuousClock.now
    connection.parser = HTTPResponseParser()
    connection.outbound = exchange.request
    connection.offset = 0
    connection.paused = false
    byExchange[exchange.id] = connection
    if !connection.connecting { writable(connection) }
    updateInterest(connection)
  }

  private func updateInterest(_ connection: Connection) {
    var events: UInt32 = connection.paused ? 0 : Posix.epollIn
    if connection.connecting || connection.offset < connection.outbound.count { events |= Posix.epollOut }
    try? Posix.epollControl(epoll, Posix.epollModify, connection.fd, events: events, token: connection.token)
  }

  private func writable(_ connection: Connection) {
    if connection.connecting {
      connection.connecting = false
      if let error = Posix.socketError(connection.fd) {
        fail(connection, .connectFailed(error.description))
        return
      }
    }
    while connection.offset < connection.outbound.count {
      let result: IOResult<Int>
      do {
        result = try connection.outbound.withUnsafeBytes { bytes throws(IOError) in
          try Posix.write(connection.fd, from: UnsafeRawBufferPointer(rebasing: bytes[connection.offset...]))
        }
      } catch {
        retryOrFail(connection, .connectionReset(String(describing: error)))
        return
      }
      guard case .done(let count) = result else { break }
      connection.offset += count
    }
    updateInterest(connection)
  }

  private func readable(_ connection: Connection) {
    // `wantsPause`: the body asked to pause during this read loop; its command arrives after it.
    while connections[connection.token] != nil, !connection.paused, connection.exchange?.body.wantsPause != true {
      let result: IOResult<Int>
      do {
        result = try Posix.read(connection.fd, into: buffer)
      } catch {
        retryOrFail(connection, .connectionReset(error.description))
        return
      }
      switch result {
      case .wouldBlock:
        return
      case .done(0):
        if connection.exchange == nil {
          close(connection)
          return
        }
        if connection.parser.isAtStart {
          retryOrFail(connection, .connectionReset("the backend closed the connection without answering"))
          return
        }
        deliver(connection.parser.endOfStream(), connection)
        close(connection)
        return
      case .done(let count):
        guard connection.exchange != nil else {
          close(connection)
          return
        }
        connection.lastActivity = ContinuousClock.now
        deliver(connection.parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count])), connection)
        if count < buffer.count { return }
      }
    }
  }

  private func deliver(_ events: [HTTPResponseParser.Event], _ connection: Connection) {
    guard let exchange = connection.exchange else { return }
    for event in events {
      switch event {
      case .head(let status, let headers, let keepAlive):
        connection.keepAlive = keepAlive
        connection.headReceived = true
        exchange.resolveHead(
          .success(UpstreamResponseHead(status: status, headers: UpstreamHeaders(headers.map { ($0.name, $0.value) }))))
      case .body(let bytes):
        exchange.body.push(bytes)
      case .end:
        exchange.body.finish(nil)
        byExchange[exchange.id] = nil
        connection.exchange = nil
        if connection.keepAlive, connections[connection.token] != nil {
          idle[connection.key, default: []].append(connection)
          updateInterest(connection)
        } else {
          close(connection)
        }
        return
      case .error(let message):
        fail(connection, .invalidResponse(message))
        return
      }
    }
  }

  /// A reused keep-alive connection may have been closed by the backend just before we used it:
  /// the request never reached it, so one fresh connection is tried before failing.
  private func retryOrFail(_ connection: Connection, _ error: UpstreamError) {
    guard connection.reused, connection.parser.isAtStart, let exchange = connection.exchange else {
      fail(connection, error)
      return
    }
    connection.exchange = nil
    byExchange[exchange.id] = nil
    close(connection)
    start(exchange, key: connection.key, address: connection.address, port: connection.port, allowReuse: false)
  }

  private func fail(_ connection: Connection, _ error: UpstreamError) {
    if let exchange = connection.exchange {
      exchange.resolveHead(.failure(error))
      exchange.body.finish(error)
    }
    close(connection)
  }

  private func close(_ connection: Connection) {
    guard connections.removeValue(forKey: connection.token) != nil else { return }
    if let exchange = connection.exchange { byExchange[exchange.id] = nil }
    connection.exchange = nil
    idle[connection.key]?.removeAll { $0 === connection }
    try? Posix.epollControl(epoll, Posix.epollDelete, connection.fd, events: 0, token: connection.token)
    Posix.close(connection.fd)
  }
}
