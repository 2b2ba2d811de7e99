import Foundation
import Glibc
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// A blocking test client on 127.0.0.1 with a receive timeout, so no test can hang.
final class TestClient: @unchecked Sendable {
  let fd: Int32

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    if result != 0 { throw IOError(errno: errno, function: "connect") }
  }

  deinit { Glibc.close(fd) }

  func send(_ text: String) { send(Array(text.utf8)) }

  func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if written <= 0 { return }
      offset += written
    }
  }

  /// Reads what is available now (blocks for the first byte); empty at end of stream or timeout.
  func readSome(max: Int = 65536) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: max)
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
    return count > 0 ? Array(buffer[0..<count]) : []
  }

  /// Blocking reads run on their own thread: a test must never block the cooperative pool the server's
  /// handlers run on.
  static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      Thread { continuation.resume(returning: body()) }.start()
    }
  }

  func read(until marker: String) async -> String {
    await Self.offPool { self.readBlocking(until: marker) }
  }

  func readToEnd() async -> [UInt8] {
    await Self.offPool { self.readToEndBlocking() }
  }

  /// Reads until the text contains `marker` or the stream ends.
  func readBlocking(until marker: String) -> String {
    var data: [UInt8] = []
    let needle = Array(marker.utf8)
    while true {
      // Only the tail can hold a marker that was not there before this chunk.
      let from = max(0, data.count - 65536 - needle.count)
      if data[from...].firstRange(of: needle) != nil { break }
      let chunk = readSome()
      if chunk.isEmpty { break }
      data += chunk
    }
    return String(decoding: data, as: UTF8.self)
  }

  func readToEndBlocking() -> [UInt8] {
    var data: [UInt8] = []
    while true {
      let chunk = readSome()
      if chunk.isEmpty { return data }
      data += chunk
    }
  }

  func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// A handler built from a closure.
struct ClosureHandler: HTTPHandler {
  let body: @Sendable (HTTPRequest, HTTPResponder) async -> Void
  func handle(_ request: HTTPRequest, responder: HTTPResponder) async { await body(request, responder) }
}

/// A one-shot signal between a handler and a test.
final class Latch: Sendable {
  private let stream: AsyncStream<Void>
  private let continuation: AsyncStream<Void>.Continuation

  init() { (stream, continuation) = AsyncStream.makeStream() }
  func open() { continuation.yield() }
  func wait() async {
    for await _ in stream { return }
  }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct HTTPServerTests {
  func server(
    _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(port: 0),
    _ body: @escaping @Sendable (HTTPRequest, HTTPResponder) async -> Void
  ) throws -> (HTTPServer, Int) {
    let server = HTTPServer(configuration: configuration, handler: ClosureHandler(body: body))
    return (server, try server.start())
  }

  static func echo(_ request: HTTPRequest, _ responder: HTTPResponder) async {
    try? await responder.respond(
      status: 200, headers: [("content-type", "text/plain")],
      body: Array("\(request.method) \(request.path) ".utf8) + request.body)
  }

  @Test func keepAliveServesTwoRequestsOnOneConnection() async throws {
    let (server, port) = try server(HTTPServerConfiguration(port: 0), Self.echo)
    let client = try TestClient(port: port)
    client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
    #expect(await client.read(until: "GET /one").contains("HTTP/1.1 200 OK"))
    client.send("POST /two HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
    #expect(await client.read(until: "body").hasSuffix("POST /two body"))
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func requestsOneAfterAnotherRunOnOneHandlerTask() async throws {
    let (server, port) = try server(HTTPServerConfiguration(port: 0, workers: 1), Self.echo)
    for connection in 0..<2 {
      let client = try TestClient(port: port)
      for index in 0..<3 {
        client.send("GET /\(connection)-\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(await client.read(until: "GET /\(connection)-\(index)").contains("HTTP/1.1 200 OK"))
      }
    }
    // Each handler parked its task in the turn that answered, before the next request could be read.
    let reactor = server.state.workers[0].reactor
    #expect(await reactor.perform { reactor.handlerTasks.tasksStarted } == 1)
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func chunkedRequestBodiesAndHTTP10() async throws {
    let (server, port) = try server(HTTPServerConfiguration(port: 0), Self.echo)
    let client = try TestClient(port: port)
    client.send("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    #expect(await client.read(until: "abcde").contains("POST /c abcde"))
    let old = try TestClient(port: port)
    old.send("GET /old HTTP/1.0\r\n\r\n")
    let answer = String(decoding: await old.readToEnd(), as: UTF8.self)
    #expect(answer.hasPrefix("HTTP/1.0 200 OK"))
    #expect(answer.contains("connection: close"))
    #expect(answer.hasSuffix("GET /old "))
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func streamedResponsesArriveChunkByChunkInOrder() async throws {
    let next = Latch()
    let (server, port) = try server { _, responder in
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      for index in 0..<3 {
        try? await responder.write(Array("data: \(index)\r\n\r\n".utf8))
        await next.wait()
      }
      try? await responder.finish()
    }
    let client = try TestClient(port: port)
    client.send("POST /s HTTP/1.1\r\n\r\n")
    var seen = await client.read(until: "data: 0")
    #expect(seen.contains("transfer-encoding: chunked"))
    #expect(!seen.contains("data: 1"))
    next.open()
    seen += await client.read(until: "data: 1")
    next.open()
    seen += await client.read(until: "data: 2")
    next.open()
    seen += await client.read(until: "0\r\n\r\n")
    #expect(seen.hasSuffix("0\r\n\r\n"))
    let order = ["data: 0", "data: 1", "data: 2"].compactMap { seen.firstRange(of: $0)?.lowerBound }
    #expect(order.count == 3 && order == order.sorted())
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func limitsAnswer413And431() async throws {
    let configuration = HTTPServerConfiguration(port: 0, maxHeadBytes: 512, maxBodyBytes: 16)
    let (server, port) = try server(configuration, Self.echo)
    let big = try TestClient(port: port)
    big.send("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
    #expect(String(decoding: await big.readToEnd(), as: UTF8.self).hasPrefix("HTTP/1.1 413"))
    let long = try TestClient(port: port)
    long.send("GET /" + String(repeating: "x", count: 1000) + " HTTP/1.1\r\n\r\n")
    #expect(String(decoding: await long.readToEnd(), as: UTF8.self).hasPrefix("HTTP/1.1 431"))
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aSlowHeadGets408() async throws {
    let configuration = HTTPServerConfiguration(port: 0, headTimeout: .milliseconds(200))
    let (server, port) = try server(configuration, Self.echo)
    let client = try TestClient(port: port)
    client.send("GET / HTTP/1.1\r\nHost:")
    #expect(String(decoding: await client.readToEnd(), as: UTF8.self).hasPrefix("HTTP/1.1 408"))
    await server.shutdown(gracePeriod: .seconds(1))
  }

  /// With `idle_poll` every loop gets the poll window, serves keep-alive requests, and its deadlines still fire
  /// while it polls or sleeps; without it no loop polls.
  @Test func idlePollReachesEveryLoopAndDeadlinesStillFire() async throws {
    let configuration = HTTPServerConfiguration(port: 0, headTimeout: .milliseconds(200), workers: 2, idlePoll: true)
    let (server, port) = try server(configuration, Self.echo)
    for worker in server.state.workers {
      #expect(await worker.reactor.perform { worker.reactor.pollWindow.maximum } == PollWindow.idlePollMaximum)
    }
    let client = try TestClient(port: port)
    for index in 0..<20 {
      client.send("GET /\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
      #expect(await client.read(until: "GET /\(index) ").contains("HTTP/1.1 200 OK"))
    }
    let slow = try TestClient(port: port)
    slow.send("GET / HTTP/1.1\r\nHost:")
    #expect(String(decoding: await slow.readToEnd(), as: UTF8.self).hasPrefix("HTTP/1.1 408"))
    await server.shutdown(gracePeriod: .seconds(1))
    let (plain, _) = try self.server(HTTPServerConfiguration(port: 0, workers: 1), Self.echo)
    for worker in plain.state.workers {
      #expect(await worker.reactor.perform { worker.reactor.pollWindow.maximum } == 0)
    }
    await plain.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aClientThatDisconnectsCancelsTheHandler() async throws {
    let cancelled = Latch()
    let started = Latch()
    let (server, port) = try server { _, responder in
      try? await responder.startStream(status: 200, headers: [])
      try? await responder.write(Array("first".utf8))
      started.open()
      await withTaskCancellationHandler {
        // Waits for ever unless cancelled: only the client's disconnect can end it.
        for await _ in AsyncStream<Void>(unfolding: {
          try? await Task.sleep(for: .seconds(3600))
          return ()
        }) {}
      } onCancel: {
        cancelled.open()
      }
    }
    let client = try TestClient(port: port)
    client.send("POST / HTTP/1.1\r\n\r\n")
    _ = await client.read(until: "first")
    await started.wait()
    client.close()
    await cancelled.wait()
    #expect(server.activeRequestCount == 0)
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func whatAHandlerWritesInOneTurnLeavesInOneWrite() async throws {
    let held = Mutex<HTTPResponder?>(nil)
    let (server, port) = try server { _, responder in
      held.withLock { $0 = responder }
      // Head, two events and the end, without the handler ever waiting: one segment for the client.
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      try? await responder.write(Array("data: 1\r\n\r\n".utf8))
      try? await responder.write(Array("data: 2\r\n\r\n".utf8))
      try? await responder.finish()
    }
    let client = try TestClient(port: port)
    client.send("POST /s HTTP/1.1\r\n\r\n")
    let seen = await client.read(until: "0\r\n\r\n")
    #expect(seen.contains("data: 1") && seen.hasSuffix("data: 2\r\n\r\n\r\n0\r\n\r\n"))
    let responder = try #require(held.withLock { $0 })
    #expect(await responder.socketWrites() == 1)
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aSlowReaderNeverMakesTheServerBufferTheWholeStream() async throws {
    let peak = Atomic<Int>(0)
    let total = 32 << 20
    let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
    let configuration = HTTPServerConfiguration(port: 0, writeHighWater: 256 * 1024)
    let (server, port) = try server(configuration) { _, responder in
      try? await responder.startStream(status: 200, headers: [])
      for _ in 0..<(total / chunk.count) { try? await responder.write(chunk) }
      peak.store(await responder.peakUnsent(), ordering: .relaxed)
      try? await responder.finish()
    }
    let client = try TestClient(port: port)
    client.send("GET /big HTTP/1.1\r\n\r\n")
    let received = await client.read(until: "\r\n0\r\n\r\n")
    #expect(received.utf8.count > total)
    // Without backpressure the writer would queue all 32 MiB at once.
    #expect(peak.load(ordering: .relaxed) <= 256 * 1024 + chunk.count + 64)
    await server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func gracefulShutdownLetsAnInFlightStreamFinish() async throws {
    let proceed = Latch()
    let (server, port) = try server { _, responder in
      try? await responder.startStream(status: 200, headers: [])
      try? await responder.write(Array("part1".utf8))
      await proceed.wait()
      try? await responder.write(Array("part2".utf8))
      try? await responder.finish()
    }
    let client = try TestClient(port: port)
    client.send("GET / HTTP/1.1\r\n\r\n")
    _ = await client.read(until: "part1")
    async let stopping: Void = server.shutdown(gracePeriod: .seconds(10))
    proceed.open()
    let rest = await client.read(until: "0\r\n\r\n")
    #expect(rest.contains("part2"))
    await stopping
    #expect((try? TestClient(port: port)) == nil, "the listener is closed after shutdown")
  }

  /// The head and the parsed JSON body of an error answer; the content-length must match the body.
  static func errorAnswer(_ bytes: [UInt8]) throws -> (head: String, body: JSONValue) {
    let separator = try #require(bytes.firstRange(of: Array("\r\n\r\n".utf8)))
    let head = String(decoding: bytes[..<separator.lowerBound], as: UTF8.self)
    let body = Array(bytes[separator.upperBound...])
    #expect(head.contains("content-length: \(body.count)\r\n"))
    return (head, try JSONParser.parse(body))
  }

  @Test func errorBodiesAreValidJSONWhateverTheMessage() throws {
    let message = "a \"quote\", a \\ backslash, controls \u{0}\u{1}\n\r\t\u{7f}, caf\u{e9}"
    for (status, name) in [(400, "INVALID_ARGUMENT"), (408, "DEADLINE_EXCEEDED"), (501, "UNIMPLEMENTED")] {
      let answer = try Self.errorAnswer(
        ServerConnectionMachine.errorResponse(HTTPParseError(status: status, message: message)))
      #expect(answer.head.hasPrefix("HTTP/1.1 \(status) "))
      #expect(answer.body["error"]?["code"]?.intValue == Int64(status))
      #expect(answer.body["error"]?["message"]?.stringValue == message)
      #expect(answer.body["error"]?["status"]?.stringValue == name)
    }
  }

  @Test func aParseErrorEchoingClientTextIsValidJSON() async throws {
    let (server, port) = try server(HTTPServerConfiguration(port: 0), Self.echo)
    let client = try TestClient(port: port)
    client.send("POST / HTTP/1.1\r\nTransfer-Encoding: \"x\\\"y\\\\\", chunked\r\n\r\n0\r\n\r\n")
    let answer = try Self.errorAnswer(await client.readToEnd())
    #expect(answer.head.hasPrefix("HTTP/1.1 501 "))
    #expect(answer.body["error"]?["message"]?.stringValue == #"transfer coding '"x\"y\\"' is not supported"#)
    await server.shutdown(gracePeriod: .seconds(1))
  }

  /// Feeds `bytes` one at a time, `interval` apart from `start`, as the loop would: the deadline follows the
  /// connection's phase after each read. Returns when the sweep would have answered 408 (nil if never).
  static func timeoutWhileTrickling(
    _ bytes: [UInt8], into parser: inout HTTPRequestParser, deadline: inout ConnectionDeadline,
    from start: MonotonicInstant, every interval: Duration, _ configuration: HTTPServerConfiguration
  ) -> MonotonicInstant? {
    var now = start
    for byte in bytes {
      now = now.advanced(by: interval)
      if deadline.verdict(at: now) == .requestTimeout { return now }
      _ = parser.feed([byte])
      let phase = ConnectionPhase(handling: false, closing: false, parser: parser.progress)
      deadline = deadline.entering(phase, at: now, configuration)
    }
    return nil
  }

  @Test func aTrickledHeadOrBodyTimesOutAsAWhole() {
    let configuration = HTTPServerConfiguration(port: 0, headTimeout: .seconds(10), bodyTimeout: .seconds(60))
    let accepted = MonotonicInstant.now
    let head = Array("POST /v1beta/models/m:generateContent HTTP/1.1\r\nContent-Length: 1000\r\n\r\n".utf8)

    // One byte every 500 ms: the head (72 bytes, 36 s) must time out 10 s after its first byte (a deadline
    // is due at its instant).
    var parser = HTTPRequestParser()
    var deadline = ConnectionDeadline.accepted(at: accepted, configuration)
    let headTimeout = Self.timeoutWhileTrickling(
      head, into: &parser, deadline: &deadline, from: accepted, every: .milliseconds(500), configuration)
    #expect(headTimeout == accepted.advanced(by: .milliseconds(500) + .seconds(10)))

    // The head at once, then the body one byte every 500 ms (1000 bytes, 500 s): 408 60 s after the head.
    parser = HTTPRequestParser()
    deadline = ConnectionDeadline.accepted(at: accepted, configuration)
    _ = parser.feed(head)
    deadline = deadline.entering(
      ConnectionPhase(handling: false, closing: false, parser: parser.progress), at: accepted, configuration)
    #expect(deadline == ConnectionDeadline(phase: .body, expiry: accepted.advanced(by: .seconds(60))))
    let bodyTimeout = Self.timeoutWhileTrickling(
      Array(repeating: 0x61, count: 1000), into: &parser, deadline: &deadline, from: accepted,
      every: .milliseconds(500), configuration)
    #expect(bodyTimeout == accepted.advanced(by: .seconds(60)))
  }

  @Test func deadlinesFollowTheConnectionsPhase() {
    let configuration = HTTPServerConfiguration(
      port: 0, headTimeout: .seconds(10), bodyTimeout: .seconds(60), idleTimeout: .seconds(30))
    let start = MonotonicInstant.now
    let handling = ConnectionDeadline.accepted(at: start, configuration).entering(.handling, at: start, configuration)
    #expect(handling.expiry == nil)
    #expect(handling.verdict(at: start.advanced(by: .seconds(3600))) == .wait)
    let idle = handling.entering(.idle, at: start, configuration)
    #expect(idle.verdict(at: start.advanced(by: .seconds(31))) == .close)
    #expect(idle.entering(.idle, at: start.advanced(by: .seconds(29)), configuration) == idle)
    let closing = idle.entering(.closing, at: start, configuration)
    #expect(closing.verdict(at: start.advanced(by: .seconds(31))) == .close)
    #expect(ConnectionPhase(handling: true, closing: true, parser: .body) == .handling)
    #expect(ConnectionPhase(handling: false, closing: true, parser: .head) == .closing)
  }

  @Test func outOfDescriptorsPausesTheListenerInsteadOfSpinning() {
    for code in [EMFILE, ENFILE, ENOBUFS, ENOMEM, EBADF, EINVAL] {
      #expect(AcceptFailure(errno: code) == .pause, "errno \(code)")
    }
    for code in [ECONNABORTED, EPROTO, EPERM, ENETUNREACH] {
      #expect(AcceptFailure(errno: code) == .skip, "errno \(code)")
    }
    #expect(AcceptFailure.acceptBackoff > .zero)
  }
}

/// The reactor layout: connections spread over the workers, and a request never leaves its loop.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ReactorLayoutTests {
  @Test func connectionsSpreadOverTheWorkersAndAnUpstreamHopStaysOnTheConnectionsLoop() async throws {
    let backend = try RawFakeBackend.answering { _ in "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" }
    defer { backend.stop() }
    let backendPort = backend.port
    let handler = ClosureHandler { _, responder in
      // The loop this handler runs on before and after the upstream exchange, which our own client
      // must serve from the same loop: no thread hop on the request path.
      let before = Reactor.current?.name ?? "none"
      var answer = "failed"
      if let response = try? await PlainHTTPTransport.shared.send(.test(port: backendPort)) {
        var body: [UInt8] = []
        while let chunk = try? await response.body.next() { body += chunk }
        answer = String(decoding: body, as: UTF8.self)
      }
      // The connection went back to the pool of the loop the handler runs on.
      let pooled = Reactor.current?.upstreamPool.idleConnections ?? 0
      let after = pooled == 1 ? Reactor.current?.name ?? "none" : "elsewhere"
      try? await responder.respond(status: 200, headers: [], body: Array("\(before) \(after) \(answer)".utf8))
    }
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0, workers: 2), handler: handler)
    let port = try server.start()
    var loops: [String] = []
    var clients: [TestClient] = []
    for _ in 0..<2 {
      // Each connection stays open, so the next one goes to the worker with fewer.
      let client = try TestClient(port: port)
      clients.append(client)
      client.send("GET / HTTP/1.1\r\n\r\n")
      let response = await client.read(until: "ok")
      let words = response.split(separator: "\r\n\r\n").last?.split(separator: " ").map(String.init) ?? []
      #expect(words.count == 3 && words[0] == words[1] && words[2] == "ok", "\(response)")
      loops.append(words.first ?? "")
    }
    #expect(Set(loops) == ["louter-worker-0", "louter-worker-1"])
    await server.shutdown(gracePeriod: .seconds(1))
  }
}

/// Free memory goes back to the kernel once a burst of connections is over, and never under steady load.
@Suite struct MemoryTrimPolicyTests {
  @Test func trimsOnceTheConnectionsFellToHalfABigEnoughPeak() {
    #expect(MemoryTrimPolicy.shouldTrim(openNow: 0, peakSinceLastTrim: 10_000))
    #expect(MemoryTrimPolicy.shouldTrim(openNow: 5_000, peakSinceLastTrim: 10_000))
    #expect(!MemoryTrimPolicy.shouldTrim(openNow: 5_001, peakSinceLastTrim: 10_000))
    // Steady load: the peak is what is open.
    #expect(!MemoryTrimPolicy.shouldTrim(openNow: 10_000, peakSinceLastTrim: 10_000))
    // A small peak never trims.
    #expect(!MemoryTrimPolicy.shouldTrim(openNow: 0, peakSinceLastTrim: MemoryTrimPolicy.minimumPeak - 1))
    #expect(MemoryTrimPolicy.shouldTrim(openNow: 0, peakSinceLastTrim: MemoryTrimPolicy.minimumPeak))
  }

  @Test func theServerTracksTheMostConnectionsOpenAtOnce() async throws {
    let server = HTTPServer(
      configuration: HTTPServerConfiguration(port: 0),
      handler: ClosureHandler { request, responder in await HTTPServerTests.echo(request, responder) })
    let port = try server.start()
    var clients: [TestClient] = []
    for index in 0..<3 {
      let client = try TestClient(port: port)
      client.send("GET /\(index) HTTP/1.1\r\n\r\n")
      _ = await client.read(until: "GET /\(index)")
      clients.append(client)
    }
    #expect(server.state.connectionsHighWater.load(ordering: .relaxed) == 3)
    for client in clients { client.close() }
    await server.shutdown(gracePeriod: .seconds(1))
  }
}
