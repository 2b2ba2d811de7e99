import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import RouterRuntime

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
  static let okHead = RawHTTP.streamHead

  @Test(arguments: UpstreamTransportKind.allCases)
  func theHeadArrivesFirstAndChunksOneByOneAsTheServerWritesThem(_ kind: UpstreamTransportKind) async throws {
    let gates = (UpstreamGate(), UpstreamGate(), UpstreamGate())
    let server = try RawFakeBackend { connection in
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
      connection.waitForClose()
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
    // "At once" is the outcome, not a stopwatch: a refusal is connectFailed, never a timeout later.
    let error = await upstreamFailure { _ = try await kind.transport.send(.test(port: port)) }
    guard case .connectFailed = error else {
      Issue.record("expected connectFailed, got \(String(describing: error))")
      return
    }
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func noAnswerMeetsTheFirstByteDeadlineAndClosesTheConnection(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let server = try RawFakeBackend { connection in
      connection.readRequest()
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    // The server never answers, so only the first-byte deadline can end the call (the suite's time
    // limit is the safety net); the error names which deadline fired.
    let error = await upstreamFailure {
      _ = try await kind.transport.send(.test(port: server.port, firstByte: .milliseconds(300)))
    }
    #expect(error == .timedOut(phase: .firstByte(.milliseconds(300))))
    #expect(error?.reason == "timed out: no response within 300 ms")
    await closed.wait()
  }

  /// `headDelay` > 0: a backend slow to answer (within its first-byte deadline) and then quick with the
  /// body's first chunk. The time before the head is not a gap in the body, so the idle deadline counts
  /// from the head (URLSession counted it from the request, and failed here when its head came late).
  @Test(arguments: UpstreamTransportKind.allCases, [0, 700])
  func aStallMidBodyMeetsTheIdleDeadline(_ kind: UpstreamTransportKind, headDelay milliseconds: UInt32) async throws {
    let closed = UpstreamEvent()
    let server = try RawFakeBackend { connection in
      connection.readRequest()
      usleep(milliseconds * 1000)
      connection.write(Self.okHead + UpstreamSockets.chunk("data: a\n\n"))
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    // The server goes silent after chunk `a` and the other deadlines are an hour off: only the idle one can
    // fire, and it must be watched from the head on (a transport still waiting for the first-byte deadline
    // would overrun the suite's time limit).
    let response = try await kind.transport.send(
      .test(port: server.port, firstByte: .seconds(3600), idle: .milliseconds(300), total: .seconds(7200)))
    #expect(try await response.body.next() == Array("data: a\n\n".utf8))
    let error = await upstreamFailure { _ = try await response.body.next() }
    #expect(error == .timedOut(phase: .idle(.milliseconds(300))))
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aBackendThatKeepsTricklingMeetsTheTotalDeadline(_ kind: UpstreamTransportKind) async throws {
    let closed = UpstreamEvent()
    let read = UpstreamGate()
    let server = try RawFakeBackend { connection in
      connection.readRequest()
      guard connection.write(Self.okHead) else { return }
      // A trickle paced by the reader: the next tick goes out as soon as the last one was read, so the
      // body is never idle (and the idle deadline is 10 s besides): only the total deadline can end it.
      while connection.write(UpstreamSockets.chunk("data: tick\n\n")), read.wait() {}
      if connection.waitForClose() { closed.fire() }
    }
    defer { server.stop() }
    // The deadline falls during the body, or on a loaded machine before the head: either way it is the
    // total deadline. How many ticks arrived first depends on the load, so it is not asserted.
    let error = await upstreamFailure {
      let response = try await kind.transport.send(.test(port: server.port, total: .milliseconds(700)))
      while try await response.body.next() != nil { read.open() }
    }
    #expect(error == .timedOut(phase: .total(.milliseconds(700))))
    // The transport gave up on the body, so it must have hung up on the server.
    read.finish()
    await closed.wait()
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func aBackendClosingMidBodyIsAnError(_ kind: UpstreamTransportKind) async throws {
    let cuts = [
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
      Self.okHead + UpstreamSockets.chunk("data: a\n\n"),
    ]
    for cut in cuts {
      let server = try RawFakeBackend { connection in
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
    let server = try RawFakeBackend { connection in
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
    let server = try RawFakeBackend { connection in
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
    let server = try RawFakeBackend { connection in
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
    let server = try RawFakeBackend { connection in
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
    let held = UpstreamEvent()
    let server = try RawFakeBackend { connection in
      connection.readRequest()
      guard connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n") else { return }
      for _ in 0..<(size / piece.count) {
        // The socket staying full says the client stopped reading it. A client that never stops gets
        // all 48 MiB instead, and `held` fires only at the end, with everything buffered.
        var poller = pollfd(fd: connection.fd, events: Int16(POLLOUT), revents: 0)
        if poll(&poller, 1, 500) == 0 { held.fire() }
        guard connection.write(piece) else { return }
      }
      held.fire()
    }
    defer { server.stop() }
    let response = try await PlainHTTPTransport.shared.send(.test(port: server.port))
    let bound = response.body.pauseAbove + 65536
    // Not reading: the client fills its buffer up to the bound, then stops reading the socket.
    await held.wait()
    var most = response.body.bufferedBytes
    #expect(most <= bound, "\(most) bytes buffered")
    var received = 0
    var intact = true
    while let chunk = try await response.body.next() {
      most = max(most, response.body.bufferedBytes)
      intact = intact && Self.matchesRepeated(piece, chunk, from: received)
      received += chunk.count
    }
    #expect(received == size)
    #expect(intact)
    #expect(most <= bound, "\(most) bytes buffered")
    #expect(server.connectionCount == 1)
  }

  /// Whether `chunk` equals the bytes of `piece` repeated endlessly, starting at stream offset `from`.
  /// Compared with memcmp a run at a time: a byte loop over 48 MiB is slow in a debug build.
  static func matchesRepeated(_ piece: [UInt8], _ chunk: [UInt8], from: Int) -> Bool {
    piece.withUnsafeBytes { pattern in
      chunk.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
          let phase = (from + offset) % pattern.count
          let length = min(pattern.count - phase, bytes.count - offset)
          guard let left = bytes.baseAddress, let right = pattern.baseAddress else { return bytes.isEmpty }
          if memcmp(left + offset, right + phase, length) != 0 { return false }
          offset += length
        }
        return true
      }
    }
  }

  @Test func aBodyEndingItselfWhenFullWakesWhoeverWaitsForItsEnd() async {
    // URLSession's bodies end themselves when the reader falls behind (`failWhenFull`); the transfer's
    // own `end` event that follows is then no ending at all, so this one must wake the waiters.
    let body = UpstreamBody(pauseAbove: 4, failWhenFull: true)
    let waiter = Task { await body.waitUntilFinished() }
    while body.finishWaiterCount == 0 { await Task.yield() }
    body.push([1, 2, 3, 4, 5])
    body.finish(.cancelled)
    #expect(body.endedAt != nil)
    // Awaited only once woken: a waiter left parked would never end.
    guard body.finishWaiterCount == 0 else {
      Issue.record("the waiter for the end was never woken")
      return
    }
    await waiter.value
    #expect(await upstreamFailure { _ = try await body.next() } == .tooLarge)
  }

  @Test func aSlowReaderOnURLSessionEndsWithTooLargeInsteadOfGrowing() async throws {
    let size = 16 << 20
    let written = UpstreamEvent()
    let piece = [UInt8](repeating: 0x61, count: 65536)
    let server = try RawFakeBackend { connection in
      connection.readRequest()
      guard connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n") else { return }
      // Until everything is written, or louter hangs up on the answer it would not hold: either way the
      // client has had the chance to buffer more than its limit.
      for _ in 0..<(size / piece.count) {
        guard connection.write(piece) else { break }
      }
      written.fire()
      connection.waitForClose()
    }
    defer { server.stop() }
    let transport = URLSessionTransport(bufferLimit: 1 << 20)
    let response = try await transport.send(.test(port: server.port))
    // URLSession reads on regardless of us while nothing is read, and the body, unable to pause it, ends
    // itself rather than grow.
    await written.wait()
    await response.body.waitUntilFinished()
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

/// The idle pool of our own client is bounded: so many connections per address, closed when unused.
@Suite(.serialized, .timeLimit(.minutes(1))) struct UpstreamPoolLimitTests {
  static let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

  /// A reactor of its own whose pool has `limits`.
  static func reactor(_ limits: UpstreamPool.Limits) async throws -> Reactor {
    let reactor = try Reactor(name: "pool-test")
    reactor.start()
    await reactor.perform { reactor.upstreamPool = UpstreamPool(reactor: reactor, limits: limits) }
    return reactor
  }

  static func exchange(on reactor: Reactor, port: Int) async -> String {
    await Task(executorPreference: reactor) {
      guard let response = try? await PlainHTTPTransport.shared.send(.test(port: port)) else { return "failed" }
      var body: [UInt8] = []
      while let chunk = try? await response.body.next() { body += chunk }
      return String(decoding: body, as: UTF8.self)
    }.value
  }

  @Test func connectionsBeyondTheIdleLimitCloseWhenTheirExchangeEnds() async throws {
    // Three requests held until all three have arrived: three connections at once.
    let arrived = Atomic<Int>(0)
    let together = UpstreamGate()
    let backend = try RawFakeBackend { connection in
      guard connection.readRequest() != nil else { return }
      if arrived.add(1, ordering: .relaxed).newValue == 3 {
        for _ in 0..<3 { together.open() }
      }
      guard together.wait(), connection.write(Self.answer) else { return }
      connection.waitForClose()
    }
    defer { backend.stop() }
    let reactor = try await Self.reactor(.init(idlePerAddress: 1, idleTimeout: .seconds(600)))
    async let first = Self.exchange(on: reactor, port: backend.port)
    async let second = Self.exchange(on: reactor, port: backend.port)
    async let third = Self.exchange(on: reactor, port: backend.port)
    #expect(await [first, second, third] == ["ok", "ok", "ok"])
    #expect(backend.connectionCount == 3)
    #expect(await reactor.perform { reactor.upstreamPool.idleConnections } == 1)
    await reactor.stop()
  }

  @Test func aLoopReadsEachURLOnceAndKeepsOnlyValidOnes() async throws {
    let backend = try RawFakeBackend { connection in
      while connection.readRequest() != nil, connection.write(Self.answer) {}
    }
    defer { backend.stop() }
    let reactor = try await Self.reactor(.standard)
    #expect(await Self.exchange(on: reactor, port: backend.port) == "ok")
    #expect(await Self.exchange(on: reactor, port: backend.port) == "ok")
    #expect(await reactor.perform { reactor.upstreamPool.keptTargets } == 1)
    // A URL that is not plain http fails every time and is not kept.
    for _ in 0..<2 {
      let failure = await Task(executorPreference: reactor) { () -> UpstreamError? in
        var request = UpstreamRequest.test(port: backend.port)
        request.url = "http://127.0.0.1:99999/v1"  // a port out of range: the wire check passes, the URL does not
        do throws(UpstreamError) {
          _ = try await PlainHTTPTransport.shared.send(request)
          return nil
        } catch {
          return error
        }
      }.value
      guard case .invalidRequest = failure else {
        Issue.record("expected an invalid request, got \(String(describing: failure))")
        return
      }
    }
    #expect(await reactor.perform { reactor.upstreamPool.keptTargets } == 1)
    await reactor.stop()
  }

  @Test func theKeptTargetsAreBounded() async throws {
    let reactor = try await Self.reactor(.standard)
    let resolver = Resolver()
    let kept = await reactor.perform { () -> [Int] in
      var kept: [Int] = []
      for index in 0...UpstreamPool.maxTargets {
        _ = try? reactor.upstreamPool.target("http://127.0.0.1:8000/v1/\(index)", resolver: resolver)
        kept.append(reactor.upstreamPool.keptTargets)
      }
      return kept
    }
    #expect(kept.max() == UpstreamPool.maxTargets)
    #expect(kept.last == 1)
    await reactor.stop()
  }

  @Test func aTargetSaysWhatItsURLSays() throws {
    let resolver = Resolver()
    let target = try PlainTarget("http://[::1]:8080/v1/chat?x=1", resolver: resolver)
    #expect(target.url.host == "[::1]" && target.url.port == 8080 && target.url.pathAndQuery == "/v1/chat?x=1")
    #expect(target.hostHeader == "[::1]:8080")
    #expect(try PlainTarget("http://example.com/v1", resolver: resolver).hostHeader == "example.com")
    guard case .success(let addresses) = resolver.cached(target.query) else {
      Issue.record("a literal host is answered at once")
      return
    }
    #expect(addresses.count == 1)
    #expect(throws: UpstreamError.self) { try PlainTarget("https://example.com/v1", resolver: resolver) }
    #expect(throws: UpstreamError.self) { try PlainTarget("http://example.com/v1\u{7F}", resolver: resolver) }
  }

  @Test func anIdleConnectionClosesAfterTheIdleTimeout() async throws {
    let closedByLouter = UpstreamEvent()
    let backend = try RawFakeBackend { connection in
      guard connection.readRequest() != nil, connection.write(Self.answer) else { return }
      // Keep-alive: the backend waits for the next request, or for louter to let the connection go.
      if connection.waitForClose() { closedByLouter.fire() }
    }
    defer { backend.stop() }
    let reactor = try await Self.reactor(.init(idlePerAddress: 8, idleTimeout: .milliseconds(20)))
    #expect(await Self.exchange(on: reactor, port: backend.port) == "ok")
    await closedByLouter.wait()
    #expect(await reactor.perform { reactor.upstreamPool.idleConnections } == 0)
    await reactor.stop()
  }
}
