import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import RouterRuntime

/// A scripted HTTP/1.1 server on 127.0.0.1 (port 0, loopback only): every accepted connection runs
/// `script` on a thread of its own, with plain blocking sockets.
final class UpstreamFakeServer: Sendable {
  let port: Int
  private let listener: Int32
  private let accepted: Mutex<Int>

  var connectionCount: Int { accepted.withLock { $0 } }

  init(_ script: @escaping @Sendable (UpstreamFakeConnection) -> Void) throws {
    let (listener, port) = try UpstreamSockets.bindLoopback()
    guard Glibc.listen(listener, 64) == 0 else { throw UpstreamSockets.Failure(call: "listen") }
    self.listener = listener
    self.port = port
    self.accepted = Mutex(0)
    let thread = Thread { [self] in acceptLoop(script) }
    thread.start()
  }

  private func acceptLoop(_ script: @escaping @Sendable (UpstreamFakeConnection) -> Void) {
    while true {
      let client = accept(listener, nil, nil)
      if client < 0 {
        if errno == EINTR { continue }
        return
      }
      let index = accepted.withLock { count -> Int in
        count += 1
        return count
      }
      let connection = UpstreamFakeConnection(fd: client, index: index)
      Thread {
        script(connection)
        connection.close()
      }.start()
    }
  }

  /// Stops accepting (shutting the listener down wakes the blocked accept).
  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
  }

  deinit { Glibc.close(listener) }
}

/// One accepted connection, driven by a server script on its own thread.
final class UpstreamFakeConnection: @unchecked Sendable {
  // Only the script's thread touches `pending` and the descriptor.
  let fd: Int32
  /// 1 for the server's first connection, 2 for the second...
  let index: Int
  private var pending: [UInt8] = []

  init(fd: Int32, index: Int) {
    self.fd = fd
    self.index = index
  }

  /// Reads one request (head and content-length body); nil when the peer closes first.
  @discardableResult
  func readRequest() -> String? {
    let marker = Array("\r\n\r\n".utf8)
    while true {
      if let end = Self.find(marker, in: pending) {
        let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
          length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let total = end + marker.count + length
        while pending.count < total {
          guard readMore() else { return nil }
        }
        let request = String(decoding: pending[..<total], as: UTF8.self)
        pending.removeFirst(total)
        return request
      }
      guard readMore() else { return nil }
    }
  }

  /// Writes all of `text`; false once the peer is gone.
  @discardableResult
  func write(_ text: String) -> Bool { write(Array(text.utf8)) }

  @discardableResult
  func write(_ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { buffer in
        send(fd, buffer.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if written < 0, errno == EINTR { continue }
      if written <= 0 { return false }
      offset += written
    }
    return true
  }

  /// Blocks until the peer closes the connection (EOF or reset); false if it is still open after `limit`.
  @discardableResult
  func waitForClose(limit: Duration = .seconds(20)) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: limit)
    var buffer = [UInt8](repeating: 0, count: 4096)
    while ContinuousClock.now < deadline {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) >= 0 || errno == EINTR else { return true }
      guard poller.revents != 0 else { continue }
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count == 0 || (count < 0 && errno != EINTR) { return true }
    }
    return false
  }

  func close() { Glibc.close(fd) }

  private func readMore() -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return false }
      pending += buffer[..<count]
      return true
    }
  }

  private static func find(_ marker: [UInt8], in bytes: [UInt8]) -> Int? {
    guard bytes.count >= marker.count else { return nil }
    for start in 0...(bytes.count - marker.count) where bytes[start..<(start + marker.count)].elementsEqual(marker) {
      return start
    }
    return nil
  }
}

/// Loopback socket helpers for the upstream tests.
enum UpstreamSockets {
  struct Failure: Error {
    let call: String
  }

  /// A TCP socket bound to 127.0.0.1 on a port the kernel picks (not listening yet).
  static func bindLoopback() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw Failure(call: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
      Glibc.close(fd)
      throw Failure(call: "bind")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else {
      Glibc.close(fd)
      throw Failure(call: "getsockname")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  /// One chunk of a chunked body.
  static func chunk(_ text: String) -> String { String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n" }
}

/// The test tells a server thread to go on: `open()` from the test, `wait()` on the server's thread.
final class UpstreamGate: Sendable {
  private let semaphore = DispatchSemaphore(value: 0)
  func open() { semaphore.signal() }
  /// Blocks the server thread; gives up after 20 s so that a failed test never leaves it behind for good.
  @discardableResult
  func wait() -> Bool { semaphore.wait(timeout: .now() + 20) == .success }
}

/// A server thread tells the test something happened: `fire()` on the thread, `await wait()` in the test.
final class UpstreamEvent: Sendable {
  private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

  func fire() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.fired = true
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  func wait() async {
    await withCheckedContinuation { continuation in
      let fired = state.withLock { state -> Bool in
        if !state.fired { state.waiters.append(continuation) }
        return state.fired
      }
      if fired { continuation.resume() }
    }
  }
}

/// The transports under test: every test runs against both, since the gateway uses either behind the
/// same protocol.
enum UpstreamTransportKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case urlSession
  case plainHTTP

  static let sharedURLSession = URLSessionTransport()

  var transport: any UpstreamTransport {
    switch self {
    case .urlSession: Self.sharedURLSession
    case .plainHTTP: PlainHTTPTransport.shared
    }
  }

  var testDescription: String { rawValue }
}

extension UpstreamRequest {
  static func test(
    port: Int, path: String = "/v1/chat/completions", body: String = #"{"model":"m"}"#,
    firstByte: Duration = .seconds(10), idle: Duration = .seconds(10), total: Duration = .seconds(30)
  ) -> UpstreamRequest {
    UpstreamRequest(
      method: "POST", url: "http://127.0.0.1:\(port)\(path)", headers: [("Content-Type", "application/json")],
      body: Array(body.utf8), connectTimeout: .seconds(5), firstByteTimeout: firstByte, streamIdleTimeout: idle,
      totalTimeout: total)
  }
}

/// The error an async body ended with, or nil if it did not throw.
func upstreamFailure(_ body: () async throws -> Void) async -> UpstreamError? {
  do {
    try await body()
    return nil
  } catch let error as UpstreamError {
    return error
  } catch {
    Issue.record("not an UpstreamError: \(error)")
    return nil
  }
}

@Suite(.timeLimit(.minutes(1))) struct UpstreamTransportTests {
  static let okHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

  @Test(arguments: UpstreamTransportKind.allCases)
  func theHeadArrivesFirstAndChunksOneByOneAsTheServerWritesThem(_ kind: UpstreamTransportKind) async throws {
    let gates = (UpstreamGate(), UpstreamGate(), UpstreamGate())
    let server = try UpstreamFakeServer { connection in
      guard let request = connection.readRequest(), request.hasPrefix("POST /v1/chat/completions HTTP/1.1") else {
        return
      }
      connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Backend: fake\r\n")
      connection.write("Transfer-Encoding: chunked\r\n\r\n")
      gates.0.wait()
      connection.write(UpstreamSockets.chunk("data: one\n\n"))
      gates.1.wait()
      connection.write(UpstreamSockets.chunk("data: two\n\n"))
      gates.2.wait()
      connection.write("0\r\n\r\n")
      connection.waitForClose(limit: .seconds(2))
    }
    defer { server.stop() }
    // The server holds every chunk back until told: `send` returning proves the head came first.
    let response = try await kind.transport.send(.test(port: server.port))
    #expect(response.head.status == 200)
    #expect(response.head.headers["content-type"] == "text/event-stream")
    #expect(response.head.headers["x-BACKEND"] == "fake")
    gates.0.open()
    #expect(try await response.body.next() == Array("data: one\n\n".utf8))
    gates.1.open()
    #expect(try await response.body.next() == Array("data: two\n\n".utf8))
    gates.2.open()
    #expect(try await response.body.next() == nil)
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aRefusedConnectionFailsAtOnce(_ kind: UpstreamTransportKind) async throws {
    // Bound and never listening: the kernel refuses connections to this port while we hold it.
    let (fd, port) = try UpstreamSockets.bindLoopback()
    defer { Glibc.close(fd) }
    let start = ContinuousClock.now
    let error = await upstreamFailure { _ = try await kind.transport.send(.test(port: port)) }
    guard case .connectFailed = error else {
      Issue.record("expected connectFailed, got \(String(describing: error))")
      return
    }
    #expect(ContinuousClock.now - start < .seconds(2))
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func noAnswerMeetsTheFirstByteDeadlineAndClosesTheConnection(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    let start = ContinuousClock.now
    let error = await upstreamFailure {
      _ = try await kind.transport.send(.test(port: server.port, firstByte: .milliseconds(300)))
    }
    let elapsed = ContinuousClock.now - start
    #expect(error == .timedOut(phase: .firstByte(.milliseconds(300))))
    #expect(error?.reason == "timed out: no response within 300 ms")
    #expect(elapsed >= .milliseconds(290) && elapsed < .milliseconds(1500), "\(elapsed)")
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aStallMidBodyMeetsTheIdleDeadline(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      connection.write(Self.okHead + UpstreamSockets.chunk("data: a\n\n"))
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    // The idle clock starts when chunk `a` is read, which is after `start` and may be before `next()`.
    let start = ContinuousClock.now
    let response = try await kind.transport.send(.test(port: server.port, idle: .milliseconds(300)))
    #expect(try await response.body.next() == Array("data: a\n\n".utf8))
    let error = await upstreamFailure { _ = try await response.body.next() }
    let elapsed = ContinuousClock.now - start
    #expect(error == .timedOut(phase: .idle(.milliseconds(300))))
    #expect(elapsed >= .milliseconds(290) && elapsed < .milliseconds(1500), "\(elapsed)")
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aBackendThatKeepsTricklingMeetsTheTotalDeadline(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      guard connection.write(Self.okHead) else { return }
      // A steady trickle, well inside the idle timeout: only the total deadline can end it.
      while connection.write(UpstreamSockets.chunk("data: tick\n\n")) {
        Thread.sleep(forTimeInterval: 0.05)
      }
      closed.fire()
    }
    defer { server.stop() }
    let start = ContinuousClock.now
    let response = try await kind.transport.send(
      .test(port: server.port, idle: .milliseconds(400), total: .milliseconds(700)))
    var chunks = 0
    let error = await upstreamFailure {
      while try await response.body.next() != nil { chunks += 1 }
    }
    let elapsed = ContinuousClock.now - start
    #expect(error == .timedOut(phase: .total(.milliseconds(700))))
    #expect(chunks >= 3)
    #expect(elapsed >= .milliseconds(690) && elapsed < .milliseconds(2000), "\(elapsed)")
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aBackendClosingMidBodyIsAnError(_ kind: UpstreamTransportKind) async throws {
    let cuts = [
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
      Self.okHead + UpstreamSockets.chunk("data: a\n\n"),
    ]
    for cut in cuts {
      let server = try UpstreamFakeServer { connection in
        connection.readRequest()
        connection.write(cut)
      }
      defer { server.stop() }
      let response = try await kind.transport.send(.test(port: server.port))
      var received = 0
      let error = await upstreamFailure {
        while let chunk = try await response.body.next() { received += chunk.count }
      }
      switch error {
      case .connectionReset?, .invalidResponse?: break
      default:
        Issue.record("\(cut.prefix(40)): expected connectionReset or invalidResponse, got \(String(describing: error))")
      }
      #expect(received <= 10)
    }
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func cancellingTheCallerMidBodyClosesTheUpstreamConnection(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      connection.write(Self.okHead + UpstreamSockets.chunk("data: tick\n\n"))
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    let first = UpstreamEvent()
    let transport = kind.transport
    let port = server.port
    let caller = Task { () async -> UpstreamError? in
      await upstreamFailure {
        let response = try await transport.send(.test(port: port))
        _ = try await response.body.next()
        first.fire()
        while try await response.body.next() != nil {}
      }
    }
    await first.wait()
    caller.cancel()
    #expect(await caller.value == .cancelled)
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func cancellingTheCallerBeforeTheHeadClosesTheUpstreamConnection(_ kind: UpstreamTransportKind) async throws {
    let received = UpstreamEvent()
    let closed = UpstreamEvent()
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      received.fire()
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    let transport = kind.transport
    let port = server.port
    let caller = Task { () async -> UpstreamError? in
      await upstreamFailure { _ = try await transport.send(.test(port: port)) }
    }
    await received.wait()
    caller.cancel()
    #expect(await caller.value == .cancelled)
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func sequentialRequestsReuseOneConnection(_ kind: UpstreamTransportKind) async throws {
    let server = try UpstreamFakeServer { connection in
      while connection.readRequest() != nil {
        let body = "connection \(connection.index)"
        connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
      }
    }
    defer { server.stop() }
    for _ in 0..<3 {
      let response = try await kind.transport.send(.test(port: server.port))
      var body: [UInt8] = []
      while let chunk = try await response.body.next() { body += chunk }
      #expect(String(decoding: body, as: UTF8.self) == "connection 1")
    }
    #expect(server.connectionCount == 1)
  }

  @Test func aRedirectToAnotherHostIsHandedBackNotFollowed() async throws {
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      connection.write(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:9/elsewhere\r\nContent-Length: 0\r\n\r\n")
    }
    defer { server.stop() }
    let response = try await UpstreamTransportKind.sharedURLSession.send(.test(port: server.port))
    #expect(response.head.status == 307)
    #expect(response.head.headers["location"] == "http://127.0.0.2:9/elsewhere")
  }

  @Test func aSlowReaderKeepsOurOwnClientsBufferBoundedAndGetsEveryByte() async throws {
    let size = 48 << 20
    let piece = [UInt8]((0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      guard connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n") else { return }
      for _ in 0..<(size / piece.count) {
        guard connection.write(piece) else { return }
      }
    }
    defer { server.stop() }
    let response = try await PlainHTTPTransport.shared.send(.test(port: server.port))
    let bound = response.body.pauseAbove + 65536
    // Not reading: the client fills the buffer up to the bound, then stops reading the socket.
    while response.body.bufferedBytes < response.body.pauseAbove {
      try await Task.sleep(for: .milliseconds(1))
    }
    var most = 0
    for _ in 0..<100 {
      most = max(most, response.body.bufferedBytes)
      try await Task.sleep(for: .milliseconds(1))
    }
    #expect(most <= bound, "\(most) bytes buffered")
    var received = 0
    var intact = true
    while let chunk = try await response.body.next() {
      most = max(most, response.body.bufferedBytes)
      for (offset, byte) in chunk.enumerated() where byte != piece[(received + offset) % piece.count] {
        intact = false
        break
      }
      received += chunk.count
    }
    #expect(received == size)
    #expect(intact)
    #expect(most <= bound, "\(most) bytes buffered")
    #expect(server.connectionCount == 1)
  }

  @Test func aSlowReaderOnURLSessionEndsWithTooLargeInsteadOfGrowing() async throws {
    let size = 16 << 20
    let written = UpstreamEvent()
    let piece = [UInt8](repeating: 0x61, count: 65536)
    let server = try UpstreamFakeServer { connection in
      connection.readRequest()
      guard connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n") else { return }
      for _ in 0..<(size / piece.count) {
        guard connection.write(piece) else { return }
      }
      written.fire()
      connection.waitForClose()
    }
    defer { server.stop() }
    let transport = URLSessionTransport(bufferLimit: 1 << 20)
    let response = try await transport.send(.test(port: server.port))
    // URLSession reads on regardless of us: the server gets all 16 MiB out while nothing is read.
    await written.wait()
    var received = 0
    let error = await upstreamFailure {
      while let chunk = try await response.body.next() {
        received += chunk.count
        #expect(response.body.bufferedBytes <= (1 << 20) + 65536)
      }
    }
    #expect(error == .tooLarge)
    #expect(received < size)
    #expect(server.connectionCount == 1)
  }
}
